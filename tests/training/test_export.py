"""The export's network arithmetic, without Keras: the mirrored twin of an ensemble."""

import pytest

torch = pytest.importorskip("torch")

from moodbox_training.export import mirrored  # noqa: E402
from moodbox_training.torch_train import build  # noqa: E402

pytestmark = pytest.mark.training


def test_a_mirrored_network_sees_the_mirror_image():
    torch.manual_seed(0)
    model = build(width=4).eval()
    for module in model.modules():  # non-trivial batch-norm statistics, as after training
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    model.classifier.weight.data.mul_(1000)  # logits as far apart as a trained network's
    ramp = torch.linspace(0, 255, 48).expand(48, 48)  # bright on the right: a face unlike its mirror image
    faces = (ramp * torch.rand(5, 1, 1, 1) + torch.rand(5, 1, 48, 48) * 40).clamp(0, 255)
    twin = mirrored(model)
    with torch.no_grad():
        rounding = (twin(faces) - model(torch.flip(faces, dims=[3]))).abs().max()
        mirroring = (twin(faces) - model(faces)).abs().max()
    assert rounding < 1e-3
    assert mirroring > 100 * rounding  # the network does tell the face from its mirror image
