"""What inserting attention does to a pretrained network before its first update.

Usage: python start_effect.py WEIGHTS DATA_ROOT   (WEIGHTS: a best.pth of mobilenetv1_plain,
width 0.25; DATA_ROOT: a folder with train/ and val/ class folders)

For plain, LA and CBAM, each as built (the paper's) and with ``attention_init='identity'``,
all loaded from the same weights: the gain of the slot (mean over val/ images of
||out|| / ||in|| there) and the loss and accuracy on val/, at 64 px, normalised by the
training images' mean and std as ``loosen train`` does by default. Prints a Markdown table.
"""
import sys

import torch
import torch.nn.functional as F
from torchvision import datasets, transforms

import loosen
from loosen.models import load_weights

weights, root = sys.argv[1], sys.argv[2]
base = transforms.Compose([transforms.Grayscale(3), transforms.Resize((64, 64)),
                           transforms.ToTensor()])
train = torch.stack([x for x, _ in datasets.ImageFolder(f'{root}/train', base)])
mean, std = train.mean((0, 2, 3)), train.std((0, 2, 3))
val = datasets.ImageFolder(f'{root}/val', base)
x = (torch.stack([v for v, _ in val]) - mean[:, None, None]) / std[:, None, None]
y = torch.tensor(val.targets)
torch.manual_seed(0)
print('| model | attention_init | slot gain (mean ‖out‖/‖in‖) | val loss | val accuracy |')
print('|---|---|---|---|---|')
for attention, start in [('plain', 'default'), ('la', 'default'), ('cbam', 'default'),
                         ('la', 'identity'), ('cbam', 'identity')]:
    model = loosen.create_model('mobilenetv1', attention, channel_multiplier=0.25,
                                attention_init=start).eval()
    load_weights(model, weights, classes=val.classes)  # classifier rows by class name
    gains = []
    model.blocks[3].attention.register_forward_hook(lambda m, i, o: gains.append(
        (o.flatten(1).norm(dim=1) / i[0].flatten(1).norm(dim=1)).mean().item()))
    with torch.no_grad():
        logits = model(x)
    loss = F.cross_entropy(logits, y).item()
    accuracy = (logits.argmax(1) == y).float().mean().item()
    print(f'| mobilenetv1_{attention} | {start} | {gains[0]:.3f} | {loss:.3f} | '
          f'{100 * accuracy:.1f} % |')
