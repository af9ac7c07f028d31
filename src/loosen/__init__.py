"""loosen: Loosen Attention for vision models, and a fair comparison of attention modules."""
from .attention import LA, create_attention, list_attentions

__version__ = '0.1.0'

__all__ = ['LA', '__version__', 'create_attention', 'list_attentions']
