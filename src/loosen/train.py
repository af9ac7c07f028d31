"""``python -m loosen.train``: ``loosen train`` under the seed's script name.

Takes the seed's command lines as written, e.g.
``python -m loosen.train --model_name AlexNet_LA --num_classes 4 --data_root DIR``.
"""
import sys

from .cli import main

if __name__ == '__main__':
    sys.exit(main(['train', *sys.argv[1:]]))
