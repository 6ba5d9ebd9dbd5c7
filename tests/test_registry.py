"""The instrument registry file: every instrument of the domain notes, with values and sources."""

from __future__ import annotations

import pytest

import ipt_outcomes as ipt
from ipt_outcomes.errors import RegistryError

# (key, min, max, higher_is, items) from the domain notes table
DOMAIN_TABLE = [
    ("HAMD17", 0, 52, "worse", 17),
    ("BDI2", 0, 63, "worse", 21),
    ("PHQ9", 0, 27, "worse", 9),
    ("EPDS", 0, 30, "worse", 10),
    ("PCL5", 0, 80, "worse", 20),
    ("CAPS5", 0, 80, "worse", 20),
    ("EDEQ_GLOBAL", 0, 6, "worse", 28),
    ("GAD7", 0, 21, "worse", 7),
    ("LSAS", 0, 144, "worse", 24),
    ("WAISR", 12, 60, "better", 12),
]


@pytest.mark.parametrize(("key", "lo", "hi", "direction", "items"), DOMAIN_TABLE)
def test_registry_has_domain_instruments(key, lo, hi, direction, items):
    inst = ipt.default_registry()[key]
    assert (inst.min, inst.max, inst.higher_is, inst.items) == (lo, hi, direction, items)
    assert inst.sources, f"{key} has no source"
    if inst.reliability is not None:
        assert inst.reliability_source


def test_registry_values_from_domain_notes():
    reg = ipt.default_registry()
    assert reg["PHQ9"].reliable_change_points == 6
    assert reg["EPDS"].reliable_change_points == 4
    assert reg["GAD7"].reliable_change_points == 4
    assert reg["PHQ9"].norms["functional"]["mean"] == pytest.approx(2.91)
    assert reg["BDI2"].reliability == pytest.approx(0.92)
    assert reg["HAMD17"].cutoffs["remission"] == 7
    assert reg["EPDS"].cutoffs["caseness"] == 13
    # values marked (check) in the domain notes are flagged as unverified
    assert reg["EDEQ_GLOBAL"].reliability_verified is False
    assert reg["EDEQ_GLOBAL"].integer is False


@pytest.mark.parametrize(("spelling", "key"), [("HAM-D", "HAMD17"), ("HRSD", "HAMD17"), ("phq-9", "PHQ9"),
                                               ("BDI-II", "BDI2"), ("PCL 5", "PCL5"), ("unknown", None)])
def test_registry_aliases(spelling, key):
    assert ipt.default_registry().resolve(spelling) == key


def test_unknown_instrument_message_lists_known():
    with pytest.raises(RegistryError, match="Declare it in the study file"):
        ipt.default_registry()["MADRS"]


def test_study_declares_and_overrides_instruments():
    reg = ipt.default_registry().extended({"MADRS": {"min": 0, "max": 60, "higher_is": "worse", "reliability": 0.86},
                                           "PHQ9": {"reliability": 0.84}})
    assert reg["MADRS"].max == 60 and reg["MADRS"].declared_by_study
    assert reg["PHQ9"].reliability == 0.84 and reg["PHQ9"].max == 27  # other fields kept


@pytest.mark.parametrize(("spec", "match"), [
    ({"max": 10}, "'min' is missing"),
    ({"min": 10, "max": 5}, "must be smaller"),
    ({"min": 0, "max": 5, "higher_is": "up"}, "higher_is"),
    ({"min": 0, "max": 5, "reliability": 1.5}, "between 0 and 1"),
    ({"min": "a", "max": 5}, "must be a number"),
])
def test_bad_declared_instrument(spec, match):
    with pytest.raises(RegistryError, match=match):
        ipt.default_registry().extended({"X": spec})


@pytest.mark.parametrize("name", ["canonical.yaml", "instruments.yaml"])
def test_shipped_yaml_reads_as_the_pure_python_safe_loader_reads_it(name):
    """The shipped schema and registry are parsed by libyaml's loader for speed: it must give what
    PyYAML's reference safe loader gives."""
    import yaml

    from ipt_outcomes.resources import read_yaml_resource, schema_file

    assert read_yaml_resource(name) == yaml.safe_load(schema_file(name).read_text(encoding="utf-8"))
