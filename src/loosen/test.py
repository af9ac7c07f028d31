"""``python -m loosen.test``: ``loosen test`` under the seed's script name.

Takes the seed's command lines as written, e.g.
``python -m loosen.test --data_root DIR --model_name resnet34_LA --save_path best.pth``.
"""
import sys

from .cli import main

if __name__ == '__main__':
    sys.exit(main(['test', *sys.argv[1:]]))
