"""C14.2's offset range at the least signed value (spec/14-packing.md).

round(v 2^F) = -2^63 is the least value C1.2 encodes; its magnitude 2^63 is far beyond the
slot bound B = 2^(F+I). NumPy's int64 absolute value of -2^63 is -2^63 itself, so a check
``|round(v 2^F)| >= B`` on int64 passed it (issue 18, found beside optimized/ring.py's
squared norm).
"""

from __future__ import annotations

import pytest

from sbrml.core.errors import EncodingError
from sbrml.optimized.packing import Packing as OptPacking
from sbrml.reference.packing import Packing as RefPacking


@pytest.mark.spec("C14.2")
@pytest.mark.parametrize("packing", [RefPacking, OptPacking], ids=["reference", "optimized"])
def test_pack_refuses_the_least_encodable_value(packing: type[RefPacking]) -> None:
    with pytest.raises(EncodingError) as info:
        packing(2048, 4).pack([0.0, -(2.0**47)])
    assert info.value.clause == "C14.2"
    assert info.value.parameter == "values[1]"
