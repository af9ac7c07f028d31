"""LA and the attention modules it is compared with, behind one registry."""
from .la import LA
from .registry import (
    AttentionSpec,
    create_attention,
    get_attention,
    list_attentions,
    register_attention,
)

__all__ = [
    'LA',
    'AttentionSpec',
    'create_attention',
    'get_attention',
    'list_attentions',
    'register_attention',
]
