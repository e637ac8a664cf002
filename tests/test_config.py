import dataclasses
import json
import re

import pytest

from seq2seq.config import (FAMILY_DEPTH, FAMILY_WIDTH, Config, ConfigError, ModelConfig, config_from_dict,
                            config_to_json, load_json, load_toml, resolve_model, with_overrides)
from seq2seq.models import build_model, num_parameters
from tests.conftest import ROOT


def test_toml_sets_only_what_it_names(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[model]\nd_model = 64\n[train]\nepochs = 2\nlr = 1\n")
    config = load_toml(path)
    assert config.model.d_model == 64 and config.train.epochs == 2
    assert config.train.lr == 1.0 and isinstance(config.train.lr, float)  # an int where a float is meant
    assert config.model.n_heads == ModelConfig().n_heads and config.decode == Config().decode


@pytest.mark.parametrize("text, message", [
    ("[modle]\nd_model = 3\n", "unknown section(s) modle"),
    ("[model]\nd_modle = 3\n", "unknown setting(s) d_modle"),
    ("[train]\nepochs = 'five'\n", "'epochs' must be int"),
    ("[train]\nepochs = true\n", "'epochs' must be int"),
    ("[train\n", "not valid TOML"),
])
def test_bad_toml_is_refused_naming_file_and_key(tmp_path, text, message):
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=re.escape(message)) as err:
        load_toml(path)
    assert str(path) in str(err.value)


def test_missing_toml_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_toml(tmp_path / "nope.toml")


def test_json_round_trip_is_exact(tmp_path):
    config = with_overrides(Config(), "train", epochs=3, lr=5e-4)
    path = tmp_path / "config.json"
    path.write_text(config_to_json(config))
    assert load_json(path) == config
    assert config_from_dict(dataclasses.asdict(config)) == config


def test_overrides_ignore_none():
    config = with_overrides(Config(), "train", epochs=None, seed=7)
    assert config.train.seed == 7 and config.train.epochs == Config().train.epochs


@pytest.mark.parametrize("arch", list(FAMILY_WIDTH))
def test_family_default_widths_give_similar_sizes_at_equal_depth(arch):
    three = dict(n_encoder_layers=3, n_decoder_layers=3)
    resolved = resolve_model(ModelConfig(arch=arch, **three), vocab_size=8000, pad_id=0)
    assert resolved.d_model == FAMILY_WIDTH[arch] and resolved.vocab_size == 8000
    transformer = num_parameters(build_model(resolve_model(ModelConfig(arch="transformer", **three),
                                                           8000, 0)))
    assert abs(num_parameters(build_model(resolved)) / transformer - 1) < 0.05
    assert resolve_model(ModelConfig(arch=arch, d_model=64), 100, 0).d_model == 64  # an explicit width wins


@pytest.mark.parametrize("arch", list(FAMILY_DEPTH))
def test_family_default_depths_fill_only_unset_layers(arch):
    resolved = resolve_model(ModelConfig(arch=arch), vocab_size=100, pad_id=0)
    assert resolved.n_encoder_layers == resolved.n_decoder_layers == FAMILY_DEPTH[arch]
    explicit = resolve_model(ModelConfig(arch=arch, n_encoder_layers=1, n_decoder_layers=4), 100, 0)
    assert (explicit.n_encoder_layers, explicit.n_decoder_layers) == (1, 4)


def test_unknown_arch_is_refused():
    with pytest.raises(ConfigError, match="arch 'rnn' is not known"):
        resolve_model(ModelConfig(arch="rnn"), 100, 0)


def test_default_toml_spells_out_exactly_the_code_defaults():
    assert load_toml(ROOT / "configs" / "default.toml") == Config()


@pytest.mark.parametrize("name", sorted(path.name for path in (ROOT / "configs").glob("*.toml")
                                        if "sweep" not in path.name))
def test_every_example_config_loads_and_builds_a_trainer_config(name):
    from seq2seq.trainer import check_train_config

    check_train_config(load_toml(ROOT / "configs" / name).train)


def test_a_folder_saved_before_a_setting_existed_keeps_what_it_did(tmp_path):
    old = json.loads(config_to_json(Config()))
    for name in ("empty_source_share", "time_budget_minutes"):
        del old["train"][name]
    del old["data"]["kinds"]
    path = tmp_path / "config.json"
    path.write_text(json.dumps(old), encoding="utf-8")
    train = load_json(path).train
    assert (train.empty_source_share, train.time_budget_minutes) == (0.0, 0.0)  # no empty sources, no budget
    assert load_json(path).data.kinds == ""  # rows of every kind


def test_train_py_options_reach_the_training_settings():
    import train

    config = train.build_config(train.parse_args(["--gloss-epochs", "0", "--epochs", "2"]))
    assert (config.train.gloss_epochs, config.train.epochs) == (0, 2)
    assert train.build_config(train.parse_args([])).train.gloss_epochs == 8  # the default
