"""Did-you-mean for layer names in network specs (issue 14): another library's name (PyTorch's
Linear, Keras's MaxPooling2D), a spelling up to underscores and case (LeakyReLU), a typo."""
import subprocess
import sys

import pytest

from matcalc import nn
from matcalc.errors import ParseError


@pytest.mark.parametrize("spec, column, meant", [
    ("leakyrelu", 1, "did you mean leaky_relu?"),
    ("dense(2,3) LeakyReLU dense(3,1)", 12, "did you mean leaky_relu?"),
    ("linear(2,3)", 1, "did you mean dense?"),
    ("dense(2,3) relu Linear(3,1)", 17, "did you mean dense?"),
    ("fc(2,3)", 1, "did you mean dense?"),
    ("conv(1,2,3)", 1, "did you mean conv2d or conv1d?"),
    ("dense(2,3) rleu dense(3,1)", 12, "did you mean relu?"),
    ("dense(2,3) sigmod", 12, "did you mean sigmoid or sign?"),
    ("batchnorm2d(3)", 1, "did you mean batchnorm?"),
    ("maxpool2d(2)", 1, "did you mean maxpool?"),
])
def test_unknown_layers_name_the_closest_known_layers(spec, column, meant):
    with pytest.raises(ParseError) as info:
        nn.from_spec(spec)
    assert info.value.column == column
    assert meant in info.value.reason and "layers: avgpool" in info.value.reason


def test_a_name_near_nothing_lists_the_layers_only():
    with pytest.raises(ParseError) as info:
        nn.from_spec("dense(2,3) zzzz")
    assert "did you mean" not in info.value.reason and "leaky_relu" in info.value.reason


def test_every_other_library_name_points_at_a_layer():
    known = set(nn.spec.MAKERS) | set(nn.activation_names())
    for other, ours in nn.spec.OTHER_NAMES.items():
        assert other not in known
        assert set(ours.split(" or ")) <= known, other


def test_the_command_line_says_it_on_one_line_with_exit_2():
    r = subprocess.run([sys.executable, "-m", "matcalc", "net", "linear(2,3) relu linear(3,1)"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.count("\n") == 1
    assert r.stderr.startswith("matcalc: parse error at column 1: unknown layer 'linear'; "
                               "did you mean dense?")
