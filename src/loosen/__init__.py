"""loosen: Loosen Attention for vision models, and a fair comparison of attention modules."""
from .attention import LA, create_attention, list_attentions
from .timm_plugins import create_model, resolve_model_name  # registers the timm models

__version__ = '0.1.0'

__all__ = ['LA', '__version__', 'create_attention', 'create_model', 'list_attentions',
           'resolve_model_name']


def __getattr__(name: str):
    """``loosen.explain`` (callable: ``loosen.explain(model, images)``) loads on first use,
    so ``import loosen`` stays fast."""
    if name == 'explain':
        import importlib
        return importlib.import_module('.explain', __name__)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
