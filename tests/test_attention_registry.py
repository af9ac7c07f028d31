"""The attention registry: one way to build every module, clear errors for unknown names."""
import pytest
import torch

from loosen import LA, create_attention, list_attentions
from loosen.attention import get_attention, register_attention
from loosen.errors import LoosenError


def test_la_is_registered_and_built_with_its_options():
    assert 'la' in list_attentions()
    module = create_attention('la', 64, heads=8, window=1)
    assert isinstance(module, LA) and module.heads == 8 and module.window == 1
    assert module(torch.randn(1, 64, 5, 5)).shape == (1, 64, 5, 5)


def test_names_are_case_insensitive():
    assert isinstance(create_attention('LA', 32), LA)


def test_unknown_name_suggests_and_lists_known_names():
    expected = r"unknown attention 'lla'; did you mean 'la'( or '\w+')*\?.*Known: .*la"
    with pytest.raises(LoosenError, match=expected):
        create_attention('lla', 32)


def test_registration_records_paper_and_parameter_count():
    spec = get_attention('la')
    assert 'Loosen Attention' in spec.paper and '52' in spec.params


def test_registering_a_name_twice_fails():
    with pytest.raises(ValueError, match='twice'):
        register_attention('la', paper='x', params='y')(LA)
