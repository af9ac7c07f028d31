"""LA and the attention modules it is compared with, behind one registry."""
# importing a module registers its attention names
from . import cbam, cca, fsa, gcsa, lesa, lma, mlca, nam, sam, simam, timm_wrapped  # noqa: F401
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
