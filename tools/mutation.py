"""Mutation testing of the protocol modules with mutmut 3 (docs/assurance.md): ``make mutation``.

Usage: ``python tools/mutation.py [MODULE ...]``, each MODULE a key of ``TESTS`` such as
``reference/ring`` (default: all of them). Steps:

1. Copy ``sbrml/``, ``tests/`` and ``pyproject.toml`` to ``build/mutation/`` and run mutmut
   there, so that nothing is written into the work tree (``build/`` is ignored by git).
2. Mutate only the chosen modules (mutmut's ``only_mutate``, appended to the copy of
   ``pyproject.toml``); every other file of ``sbrml/`` is copied unchanged. mutmut runs the
   union of the chosen modules' tests (``TESTS``) once to see which test calls which function.
3. Of the tests that call each mutated function, keep only those that ``TESTS`` maps the
   function's module to: each module is judged by its own tests, not by
   a test of another module that happens to call it.
4. Classify every mutant: killed (a test failed, or it ran out of time), a message-only mutant
   (``is_message_only``, ``is_label_only`` and ``MESSAGE_FUNCTIONS``: it changes only what
   an error says, never its class, its clause or when it is raised),
   judged equivalent (``EQUIVALENT``, with the reason), or surviving. Print one line per module
   with the score, killed / (mutants - message-only - equivalent), list each survivor with its
   diff, write the same to ``build/mutation/report.md``, and exit 1 if a module scores below
   ``--floor`` (default 90 %).
"""

from __future__ import annotations

import argparse
import ast
import difflib
import json
import os
import re
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "build" / "mutation"

# The tests that exercise each module: its spec section's tests (the file numbers follow
# spec/), the narrow-width, validation-path and across-block tests of issue 18, the
# differential tests of the same functions, and the known-answer vectors. The round's
# per-party paths (one server per process, section 23) are tested with every party in its
# own thread (tests/net/test_parties.py, and test_parties_agreement.py for the valid lists and
# the messages between the servers; no network, no subprocess).
_RING = [
    "tests/spec/test_01_ring.py",
    "tests/spec/test_01_ring_helpers.py",
    "tests/spec/test_01_ring_widths.py",
    "tests/spec/test_01_ring_edges.py",
    "tests/differential/test_encoders_agree.py",
    "tests/vectors/test_vectors.py",
]
_SHARING = [
    "tests/spec/test_03_sharing.py",
    "tests/spec/test_01_ring_widths.py",
    "tests/vectors/test_vectors.py",
]
_BEAVER = [
    "tests/spec/test_04_beaver.py",
    "tests/spec/test_04_beaver_material.py",
    "tests/spec/test_validation_paths.py",
    "tests/differential/test_blocks_and_parameters.py",
    "tests/vectors/test_vectors.py",
]
_DISTANCES = [
    "tests/spec/test_05_distances.py",
    "tests/spec/test_05_distance_views.py",
    "tests/spec/test_05_distance_steps.py",
    "tests/spec/test_validation_paths.py",
    "tests/differential/test_blocks_and_parameters.py",
    "tests/vectors/test_vectors.py",
]
_ROUND = [
    "tests/spec/test_08_round.py",
    "tests/spec/test_08_round_fields.py",
    "tests/spec/test_08_round_params.py",
    "tests/spec/test_08_round_boundary.py",
    "tests/spec/test_08_range_validation.py",
    "tests/spec/test_08_leakage.py",
    "tests/spec/test_validation_paths.py",
    "tests/net/test_parties.py",
    "tests/net/test_parties_agreement.py",
    "tests/differential/test_trees_agree.py",
    "tests/differential/test_blocks_and_parameters.py",
    "tests/vectors/test_vectors.py",
]
# Secure comparison (spec section 21): its steps, errors and views, the trees' agreement gate
# by gate, and the range validation of the round that uses it (C8.14).
_COMPARISON = [
    "tests/spec/test_21_comparison.py",
    "tests/spec/test_21_errors.py",
    "tests/spec/test_21_per_party.py",
    "tests/statistical/test_21_views.py",
    "tests/differential/test_comparison_agree.py",
    "tests/spec/test_08_range_validation.py",
    "tests/vectors/test_vectors.py",
    # The per-party paths (a server's share absent, D23.1), every party in its own thread.
    "tests/net/test_parties.py",
    "tests/net/test_parties_agreement.py",
]
TESTS: dict[str, list[str]] = {
    "reference/sharing": _SHARING,
    "optimized/sharing": _SHARING,
    "reference/ring": _RING,
    "optimized/ring": _RING,
    "reference/beaver": _BEAVER,
    "optimized/beaver": _BEAVER,
    "reference/distances": _DISTANCES,
    "optimized/distances": _DISTANCES,
    "reference/round": _ROUND,
    "optimized/round": _ROUND,
    "optimized/round_offline": _ROUND,
    "optimized/round_output": _ROUND,
    "core/round": _ROUND,
    "reference/comparison": _COMPARISON,
    "optimized/comparison": _COMPARISON,
    "reference/carry_tree": _COMPARISON,
    "optimized/carry_tree": _COMPARISON,
    "reference/comparison_dealer": _COMPARISON,
    "optimized/comparison_dealer": _COMPARISON,
}

# Surviving mutants judged equivalent: mutmut's name -> why no test can tell it from the code.
# The names hold while the function is unchanged (mutmut numbers a function's mutants in
# order); docs/assurance.md lists the same mutants.
_NO_KIND_X = (
    "no NumPy dtype kind is the letter X, so adding X's to the set of kinds changes nothing"
)
_FLOAT64 = "NumPy's astype(None) is astype(float64)"
EQUIVALENT: dict[str, str] = {
    "sbrml.optimized.ring.x_as_ring__mutmut_47": _NO_KIND_X,
    "sbrml.optimized.ring.x_as_ring__mutmut_82": (
        "at bits = 64 the test int(arr.max()) >= 2^64 is false for every uint64 array"
    ),
    "sbrml.optimized.ring.x_as_real_array__mutmut_19": _NO_KIND_X,
    "sbrml.optimized.ring.x_as_real_array__mutmut_35": _FLOAT64,
    "sbrml.optimized.ring.x_decode__mutmut_29": _FLOAT64,
}
# core/round.py, the per-party paths of the round (issue 18).
_ROUND_MUT = "sbrml.core.round."
_NO_SHARE = "by_sender.get(name) is None or [] alike when a worker sent nothing: `not got` is true"
for _name, _reason in [
    *[(f"x_collect_shares__mutmut_{k}", _NO_SHARE) for k in (16, 18)],
]:
    EQUIVALENT[_ROUND_MUT + _name] = _reason
# zip(..., strict=True) loosened where every operand has the same length by construction.
_SAME_COUNT = "the dealer draws every operand with ring_elements(count): the lengths are equal"
_SAME_ROWS = "a^0, a^1 have `rows` entries and B^0, B^1, C^0 `rows` rows of `cols` (_rows)"
_SAME_COLS = "B^0, B^1, C^0 are all cut into rows of `cols` entries by _rows"
_CHECKED_WIDTH = "check_matrix has refused rows of unequal length before this zip"
_SEND_PARTS = "every caller of Dealer._send passes 2 or 3 parts, so the else branch never runs"
for _name, _number, _reason in [
    ("scalar_triples", 30, _SAME_COUNT),
    ("scalar_triples", 36, _SAME_COUNT),
    ("scalar_triples", 37, _SAME_COUNT),
    ("square_pairs", 28, _SAME_COUNT),
    ("square_pairs", 32, _SAME_COUNT),
    ("square_pairs", 33, _SAME_COUNT),
    ("row_triples", 71, _SAME_COLS),
    ("row_triples", 75, _SAME_COLS),
    ("row_triples", 76, _SAME_COLS),
    ("row_triples", 82, _SAME_ROWS),
    ("row_triples", 88, _SAME_ROWS),
    ("row_triples", 89, _SAME_ROWS),
]:
    EQUIVALENT[f"sbrml.reference.beaver.xǁDealerǁ{_name}__mutmut_{_number}"] = _reason
for _number in (42, 45, 46):
    EQUIVALENT[f"sbrml.reference.distances.x_sq_distances__mutmut_{_number}"] = _CHECKED_WIDTH
for _number in (7, 12, 14):
    EQUIVALENT[f"sbrml.optimized.beaver.xǁDealerǁ_send__mutmut_{_number}"] = _SEND_PARTS
EQUIVALENT.update(
    {
        "sbrml.reference.distances.x_sq_distances__mutmut_27": (
            "j over range(n) instead of range(i + 1, n): the extra j < i rewrite the same "
            "symmetric entries with the same values and j = i writes the diagonal's 0"
        ),
        "sbrml.reference.distances.x_sq_distances__mutmut_28": (
            "j over range(i + 1): every pair i > j is written once, symmetrically, with its value"
        ),
        "sbrml.reference.distances.x_sq_distances__mutmut_29": (
            "j from i - 1: j = i - 1 rewrites a pair with its value, j = i the diagonal's 0, and "
            "j = -1 (i = 0) is row n - 1, so out[0][-1] is D_0,n-1 itself"
        ),
        "sbrml.reference.distances.x_secure_sq_distances_pairwise__mutmut_5": (
            "d = 1 instead of 0 only when n = 0, where there are no pairs to slice by d"
        ),
        "sbrml.optimized.beaver.x_gram_sum__mutmut_8": (
            "same = None: the right operand is computed again from the same arrays (x is y, "
            "dx is dy), equal to the left one"
        ),
        "sbrml.optimized.beaver.x_gram_sum__mutmut_20": (
            "the right operand is computed again from the same arrays, equal to the left one"
        ),
        "sbrml.optimized.beaver.xǁDealerǁ_send__mutmut_9": (
            "the parts are 1-D ring_elements arrays: reshape(None) keeps their shape"
        ),
        "sbrml.optimized.beaver.xǁDealerǁ_send__mutmut_11": (
            "the parts are 1-D arrays and NumPy reads reshape(-2) as reshape(-1)"
        ),
        "sbrml.optimized.beaver.xǁGramSharesǁrestrict__mutmut_17": (
            "restricting to all rows in order returns a copy instead of self: a[arange(n)], "
            "c and aat indexed by arange(n) hold the same values (only `is` tells them apart, "
            "and no caller keeps or compares the identity)"
        ),
        "sbrml.optimized.beaver.xǁGramSharesǁrestrict__mutmut_18": (
            "the same: a copy with the same values instead of self"
        ),
        "sbrml.optimized.distances.x_check_matrix__mutmut_91": _NO_KIND_X,
        "sbrml.optimized.distances.x_check_matrix__mutmut_108": _FLOAT64,
        "sbrml.optimized.distances.x__floats__mutmut_2": (
            "arr.astype(np.float64) is already float64: asarray with dtype=None returns it as is"
        ),
        "sbrml.optimized.distances.x__floats__mutmut_4": (
            "arr.astype(np.float64) is already float64: asarray without a dtype returns it as is"
        ),
        "sbrml.optimized.distances.x__floats__mutmut_5": _FLOAT64,
        "sbrml.optimized.distances.x_restrict_square_pairs__mutmut_25": (
            "NumPy reads reshape(-2, d) as reshape(-1, d)"
        ),
        "sbrml.optimized.distances.x_restrict_square_pairs__mutmut_27": (
            "NumPy reads reshape(-2) as reshape(-1)"
        ),
    }
)

# optimized/distances.py, D5.3's float views (issue 18 item 1, second pass).
_DIST = "sbrml.optimized.distances."
_VIEWS = _DIST + "xǁDistancesǁ"
_BOOL_ALREADY = "refined.all(axis=1) is a bool array already: asarray without a dtype keeps it"
_INT_ANY = "an index array of NumPy's default integer dtype indexes the same entries as intp"
_E_EXACT = (
    "exponents |e| < 2^12 are exact in float64, and every reader of Distances.e converts "
    "(at_scale's astype(int64), settle's int(), magnitudes' float log)"
)
_INTO_INT64 = "the values are stored into Distances.e (int64): integral zeros or exponents, exact"
_ONE_SCALE = (
    "the first view's scale changes no value: one row (n = 1) or x all 0 is the 0 matrix "
    "with bounds 0 at every scale, step 5 gives q = 0, magnitude()'s spread is 0"
)
_FREXP_ZERO = "top = 0: math.frexp(0.0) is (0.0, 0), so the if-branch gives 0 as the else does"
_MASK_MIRRORED = "refine reads only mask | mask.T: marking the rows or the columns marks both"
_TWIN_NOT_PENDING = (
    "a complete twin has every entry refined, (i, twin) included, and refined is symmetric, "
    "so twin is never among the pending js"
)
_RESHAPE_M2 = "NumPy reads reshape(-2, ...) as reshape(-1, ...)"
_UINT_SUM = "the sum of a uint64 array is uint64 without a dtype (NumPy's unsigned accumulator)"
_PAIRS_EQUAL = "first and second come from one np.nonzero and one mask: their lengths are equal"
for _name, _reason in [
    ("x_check_matrix__mutmut_109", "astype reads copy=None as copy=False (no copy if not needed)"),
    ("x_checked_distances__mutmut_5", "check_matrix's `if not scan` reads None as False"),
    ("x_checked_distances__mutmut_37", _ONE_SCALE),
    ("x_checked_distances__mutmut_54", _FREXP_ZERO),
    ("x_checked_distances__mutmut_59", "a finite top has a frexp exponent <= 1024 < 1074"),
    ("x_checked_distances__mutmut_68", _FREXP_ZERO),
    ("x_checked_distances__mutmut_70", _ONE_SCALE),
    (
        "x_probe_centre__mutmut_2",
        "n = 2: each row's median (its 1st smallest of 0 and D_01) is D_01, a tie won by row 0",
    ),
    ("x_restrict_square_pairs__mutmut_34", _RESHAPE_M2),
    ("x_restrict_square_pairs__mutmut_36", _RESHAPE_M2),
    ("x_secure_sq_distances_pairwise__mutmut_24", _RESHAPE_M2),
    ("x_secure_sq_distances_pairwise__mutmut_34", _UINT_SUM),
    ("x_secure_sq_distances_pairwise__mutmut_36", _UINT_SUM),
]:
    EQUIVALENT[_DIST + _name] = _reason
for _name, _reason in [
    # Numbered after b43da16 removed Distances.floor and its six mutants (4-9): the numbers
    # below were 17, 19, 26, 28 and 35 (checked with mutmut's generator on the new source).
    ("__init____mutmut_11", _BOOL_ALREADY),
    ("__init____mutmut_13", _BOOL_ALREADY),
    ("__init____mutmut_20", _E_EXACT),
    ("__init____mutmut_22", _E_EXACT),
    (
        "__init____mutmut_29",
        "the sample only prefilters: equal() and twins() compare whole rows after it, and "
        "equal rows are equal on any sample",
    ),
    ("_store__mutmut_17", _BOOL_ALREADY),
    ("_store__mutmut_19", _BOOL_ALREADY),
    (
        "magnitude__mutmut_11",
        "the Gram diagonal has n >= 1 entries (D6.1), all >= 0: initial=0.0 changes no maximum",
    ),
    (
        "magnitude__mutmut_13",
        "the Gram diagonal has n >= 1 entries (D6.1), all >= 0: initial=0.0 changes no maximum",
    ),
    ("refine__mutmut_16", _TWIN_NOT_PENDING),
    ("refine__mutmut_18", _TWIN_NOT_PENDING),
    ("refine__mutmut_21", _TWIN_NOT_PENDING),
    ("refine__mutmut_24", "js is never empty, and a list of bools is a bool array"),
    ("refine__mutmut_26", "js is never empty, and a list of bools is a bool array"),
    ("refine__mutmut_37", _INTO_INT64),
    ("refine__mutmut_39", _INTO_INT64),
    ("refine__mutmut_59", "NumPy stores None in a bool array as False"),
    *[(f"refine_rows__mutmut_{k}", _MASK_MIRRORED) for k in (8, 9, 10, 11)],
    ("twins__mutmut_25", _PAIRS_EQUAL),
    ("twins__mutmut_28", _PAIRS_EQUAL),
    ("twins__mutmut_29", _PAIRS_EQUAL),
    ("twins__mutmut_50", _INT_ANY),
    ("twins__mutmut_52", _INT_ANY),
    ("twins__mutmut_56", _INTO_INT64),
    ("twins__mutmut_58", _INTO_INT64),
    ("unscaled__mutmut_6", "np.ldexp of a float64 array is float64: asarray keeps it"),
    ("unscaled__mutmut_8", "np.ldexp of a float64 array is float64: asarray keeps it"),
]:
    EQUIVALENT[_VIEWS + _name] = _reason
# optimized/ring.py (issue 18 item 1). sq_norm_below decides C8.2's sum_k e_k^2 < 2^62 from
# the float dot product outside the band (1 +- 2 gamma) 2^62 and exactly inside it; the exact
# path is always right, so a mutant that widens the band, or sends a sum on its edge to the
# exact path, answers as the code does. A narrowed band is equivalent only while it stays above
# the dot product's error bound gamma_d = d u / (1 - d u) for d terms in any order, FMA or not
# (Higham, section 3.1), plus the rounding of 1 +- band (u above 1, u/2 below).
_RING_MUT = "sbrml.optimized.ring."
_WIDER = "the exact path's band (1 +- 2 gamma) 2^62 only widens, and the exact path is always right"
_EDGE = "a sum exactly on the band's edge goes to the exact path, which is always right"
_NARROW = (
    "gamma's numerator or denominator changed by one term: the band stays at least "
    "2 (d + 1) u (1 - (d + 1) u), above gamma_d plus u for every d < 2^51"
)
_HALVES = (
    "|v| < 2^32 squares below 2^64, exact as uint64 (the int64 product wraps mod 2^64), with "
    "halves below 2^32, so the fast path is exact for as many terms as the low half allows"
)
for _name, _reason in [
    ("x_as_real_array__mutmut_36", "astype reads copy=None as copy=False (no copy if not needed)"),
    ("x__from_elements__mutmut_24", "NumPy reads reshape(-2) as reshape(-1)"),
    (
        "x__from_elements__mutmut_33",
        "every element of every type is checked: the same verdict, since is_real_scalar of an "
        "int, float or NumPy scalar depends on its type alone",
    ),
    *[(f"x_sq_norm_below__mutmut_{k}", _WIDER) for k in (11, 13, 18, 36, 37, 42, 43, 44)],
    ("x_sq_norm_below__mutmut_32", _EDGE),
    ("x_sq_norm_below__mutmut_39", _EDGE),
    *[(f"x_sq_norm_below__mutmut_{k}", _NARROW) for k in (10, 14, 17)],
    ("x_sq_norm_below__mutmut_25", "NumPy reads reshape(-2) as reshape(-1)"),
    ("x_sq_norm_encoded__mutmut_9", _HALVES),
    (
        "x_sq_norm_encoded__mutmut_10",
        "every vector takes the exact path: Python ints, always right",
    ),
    ("x_sq_norm_encoded__mutmut_11", _HALVES),
    ("x_sq_norm_encoded__mutmut_12", _HALVES),
    *[(f"x_sq_norm_encoded__mutmut_{k}", _UINT_SUM) for k in (23, 25, 32, 34)],
]:
    EQUIVALENT[_RING_MUT + _name] = _reason
# The round modules (run at 38aef63): the optimized per-server round and its offline set-up.
_OPT_ROUND = "sbrml.optimized.round.x_server_round__mutmut_"
for _number, _reason in [
    (89, "z is assigned on every path before it is read"),
    (368, _FLOAT64),
    (498, _FLOAT64),
]:
    EQUIVALENT[f"{_OPT_ROUND}{_number}"] = _reason

# Secure comparison, optimized tree (run of 2026-12-01 at e7bd894).
_OUT = "out= only chooses the memory the result is written to; the values are the same"
_STRICT_ROWS = "z holds `count` planes per played server: the two rows always have equal lengths"
_HALF_SLICE = "2 * pairs is size or size - 1, and the odd indices below both are the same"
_TWO_ROWS = "the slice reaches past the last index of an axis of length 2: 1:3 is 1:2 there"
_SAME_BYTES = (
    "the vector holds ring elements below 2^64: as int64 (below 2^63) or uint64 NumPy "
    "stores the same bytes, which is all view(np.uint8) reads"
)
_CMP = "sbrml.optimized.comparison."
_TREE = "sbrml.optimized.carry_tree."
_DEAL = "sbrml.optimized.comparison_dealer."
for _name, _reason in [
    (_CMP + "x__exchange_ring__mutmut_5", _OUT),
    (_CMP + "x__exchange_ring__mutmut_10", _OUT),
    *[(_CMP + f"x_and_layer__mutmut_{k}", _STRICT_ROWS) for k in (87, 90, 93)],
    *[
        (
            _CMP + f"x_range_check__mutmut_{k}",
            "check_mask has refused a mask without its high part: the branch never runs",
        )
        for k in (134, 135, 136, 137)
    ],
    *[(_CMP + f"x_range_check__mutmut_{k}", _OUT) for k in (177, 181, 184, 185, 187, 188)],
    (_CMP + "x_select__mutmut_54", "got is only the `got` text of the ShapeError raised next"),
    (
        _TREE + "x__rows__mutmut_2",
        "check_triples has read the lanes field; no step after it reads a row's lanes",
    ),
    (_TREE + "x__tree_level__mutmut_13", "slice(None, k, 2) is slice(0, k, 2)"),
    (_TREE + "x__tree_level__mutmut_24", _HALF_SLICE),
    (_TREE + "x__tree_level__mutmut_31", _HALF_SLICE),
    (_TREE + "x__tree_level__mutmut_44", "this branch runs at size == 2: node[1:3] is node[1:2]"),
    (_TREE + "x__tree_level__mutmut_66", _TWO_ROWS),
    (_TREE + "x__tree_level__mutmut_107", "NumPy reads reshape(-2) as reshape(-1)"),
    *[(_TREE + f"x_and_gates__mutmut_{k}", _OUT) for k in (68, 90, 93, 102, 105)],
    *[
        (_DEAL + f"x_check_lanes__mutmut_{k}", "bound is only the condition text of the error")
        for k in (12, 13, 14, 15)
    ],
    (
        _DEAL + "x_clear_high_lanes__mutmut_1",
        "when lanes % 64 == 0 the top word's mask is all ones, and an empty stack has no words",
    ),
    (
        _DEAL + "x_clear_high_lanes__mutmut_2",
        "when lanes % 64 == 0 the top word's mask is all ones: clearing it changes nothing",
    ),
    (_DEAL + "x_deal_dabits__mutmut_21", "the third buffer is never used"),
    (_DEAL + "x_draw_planes__mutmut_7", "NumPy reads reshape(-2) as reshape(-1)"),
    (_DEAL + "x_ones__mutmut_4", "np.full takes the dtype of its fill value, np.uint64"),
    (_DEAL + "x_ones__mutmut_7", "np.full takes the dtype of its fill value, np.uint64"),
    (_DEAL + "x_plane_stack__mutmut_3", "need is only the condition text of the errors"),
    (_DEAL + "x_planes_of__mutmut_23", _SAME_BYTES),
    (_DEAL + "x_planes_of__mutmut_25", _SAME_BYTES),
]:
    EQUIVALENT[_name] = _reason

# Secure comparison, reference tree (run of 2026-12-01 at 8c641d5).
_RCMP = "sbrml.reference.comparison."
_RTREE = "sbrml.reference.carry_tree."
_RDEAL = "sbrml.reference.comparison_dealer."
_NAMES = "the strings name the function and parameter in unpack_ring's error only"
_BOTH_CHECKED = "both servers' material is present and checked to the same lane count first"
_SAME_LEN = "every operand is drawn or unpacked with the same count: the lengths are equal"
for _name, _reason in [
    *[
        (_RCMP + f"x__check_planes__mutmut_{k}", "got is only the `got` text of the ShapeError")
        for k in (8, 9, 10, 11)
    ],
    *[(_RCMP + f"x__exchange_ring__mutmut_{k}", _NAMES) for k in (31, 32, 39, 40, 41, 42)],
    *[(_RCMP + f"x__exchange_ring__mutmut_{k}", _NAMES) for k in (52, 53, 60, 61, 62, 63)],
    (_RCMP + "x_and_layer__mutmut_2", _BOTH_CHECKED),
    (_RCMP + "x_bit_to_ring__mutmut_2", _BOTH_CHECKED),
    (
        _RCMP + "x_less_than_zero__mutmut_95",
        "one plane more of c: only planes 0..width are read",
    ),
    *[(_RCMP + f"x_range_check__mutmut_{k}", _SAME_LEN) for k in (141, 145, 147, 154, 157, 159)],
    *[
        (_RTREE + f"x__slice__mutmut_{k}", "no step after the checks reads a slice's lanes")
        for k in (1, 9, 13)
    ],
    *[(_RTREE + f"x_exchange_planes__mutmut_{k}", _SAME_LEN) for k in (69, 72, 73)],
    *[
        (_RTREE + f"x_less_than_tree__mutmut_{k}", "less_than_bits has checked len(rho) = len(c)")
        for k in (6, 9, 10)
    ],
    (
        _RTREE + "x_less_than_tree__mutmut_59",
        "and_gates reads one triple per gate, in order: those past used + gates are not read",
    ),
    *[
        (_RTREE + f"x_less_than_tree__mutmut_{k}", "at the last level k is 0: step * k is 0")
        for k in (69, 71)
    ],
    *[
        (_RTREE + f"x_less_than_tree__mutmut_{k}", "the last level's E is never read")
        for k in (91, 92)
    ],
    *[
        (_RDEAL + f"x_check_lanes__mutmut_{k}", "bound is only the condition text of the error")
        for k in (12, 13, 14, 15)
    ],
    *[(_RDEAL + f"x_deal_and_triples__mutmut_{k}", _SAME_LEN) for k in (45, 51, 52)],
    *[(_RDEAL + f"x_deal_masks__mutmut_{k}", _SAME_LEN) for k in (43, 46, 47, 59, 62, 67)],
    *[(_RDEAL + f"x_deal_masks__mutmut_{k}", _SAME_LEN) for k in (94, 97, 98)],
]:
    EQUIVALENT[_name] = _reason

# Functions that only build the text of an error message: each of their mutants is
# message-only, like a changed argument of an ``...Error(...)`` call. Function -> its callers.
MESSAGE_FUNCTIONS: dict[str, str] = {
    "sbrml.reference.ring.x_range_condition": "the condition text of C1.2's EncodingError",
    "sbrml.optimized.ring.x__index": "the `[i][j]` suffix of the parameter an error names",
}

# mutmut's exit codes (mutmut.__main__.status_by_exit_code): a failing test run, pytest's
# internal error and the CPU-time limit (SIGXCPU) all count as killed.
KILLED_CODES = {1, 3, -24, 24, 36, 152, 255}
CLAUSE = re.compile(r"^[CDP]\d+\.\d+$")


def _module_path(module: str) -> str:
    return f"sbrml/{module}.py"


def _module_of(mangled: str) -> str:
    """``sbrml.reference.ring.x_encode`` or ``sbrml.core.round.xǁCǁm`` -> ``reference/ring``."""
    dotted = mangled.rsplit(".", 1)[0]
    return dotted.removeprefix("sbrml.").replace(".", "/")


def _is_clause(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and bool(CLAUSE.match(node.value))
    )


# Module helpers that only build a SpecError with a fixed clause from their arguments
# (``_shape(function, name, need, got)`` returns ``ShapeError(..., "C21.4", got)``): a call
# to one is read as a call of the error class itself. A mutant that drops an argument still
# changes the call's length, so it stays behavioural (a TypeError in place of the error).
ERROR_BUILDERS = {"_shape", "_shape_error"}


class _BlankMessages(ast.NodeTransformer):
    """Replace each argument of an ``...Error(...)`` call (or of an ``ERROR_BUILDERS`` call)
    by a placeholder, except clause IDs."""

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
        if name.endswith("Error") or name in ERROR_BUILDERS:
            node.args = [a if _is_clause(a) else ast.Constant(value="") for a in node.args]
            for keyword in node.keywords:
                if not _is_clause(keyword.value):
                    keyword.value = ast.Constant(value="")
        return node


def _normalized(code: str) -> str:
    return ast.dump(_BlankMessages().visit(ast.parse(code)))


def _differences(a: ast.AST, b: ast.AST, parent: ast.AST | None) -> list[tuple[Any, Any, Any]]:
    """The (original, mutant, parent) nodes or values where two trees first differ."""
    if type(a) is not type(b):
        return [(a, b, parent)]
    if not isinstance(a, ast.AST):
        if isinstance(a, list):
            if len(a) != len(b):
                return [(a, b, parent)]
            return [d for x, y in zip(a, b, strict=True) for d in _differences(x, y, parent)]
        return [] if a == b else [(a, b, parent)]
    if isinstance(a, ast.Constant) and isinstance(b, ast.Constant):
        same = type(a.value) is type(b.value) and a.value == b.value
        return [] if same else [(a, b, parent)]
    found = []
    for name, value in ast.iter_fields(a):
        if name in ("ctx", "type_comment"):
            continue
        found += _differences(value, getattr(b, name), a)
    return found


# Calls whose string argument names what is looked up, not what an error will say.
LOOKUPS = {"getattr", "hasattr", "setattr", "delattr", "get", "pop", "setdefault", "derive"}


def _callee_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def is_label_only(original: str, mutant: str, labels: set[str]) -> bool:
    """True if the mutant changes only a label passed to a call: the pattern's second half.

    A label is the name of a function of the module or of a parameter of the function being
    mutated, passed as a string argument to a call (``check_frac_bits("decode", ...)``,
    ``as_ring("decode", "elements", ...)``); the callee uses it only to name the function and
    parameter in the error it may raise. The mutant must change that one string (to another
    string or to ``None``) and nothing else. A string passed to a lookup (``getattr(rule,
    "rule", rule)``, ``mapping.get("name")``: ``LOOKUPS``) is never a label: it decides what
    is read, however it happens to be spelled.
    """
    a, b = ast.parse(original), ast.parse(mutant)
    diffs = _differences(a, b, None)
    if len(diffs) != 1:
        return False
    old, new, parent = diffs[0]
    if isinstance(parent, ast.Call) and _callee_name(parent) in LOOKUPS:
        return False
    return (
        isinstance(old, ast.Constant)
        and old.value in labels
        and isinstance(new, ast.Constant)
        and (new.value is None or isinstance(new.value, str))
        and isinstance(parent, (ast.Call, ast.keyword))
    )


def _labels(module_source: str, function_code: str) -> set[str]:
    names = {
        node.name
        for node in ast.walk(ast.parse(module_source))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    function = ast.parse(function_code).body[0]
    if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
        args = function.args
        names |= {x.arg for x in args.posonlyargs + args.args + args.kwonlyargs}
    return names


CAST_REASON = "typing.cast returns its second argument whatever its first (a type for mypy only)"


def is_cast_type_only(original: str, mutant: str) -> bool:
    """True if the mutant changes only the first argument of a ``cast(...)`` call: an
    equivalent mutant, as ``typing.cast`` has no effect at run time (CAST_REASON)."""
    diffs = _differences(ast.parse(original), ast.parse(mutant), None)
    if len(diffs) != 1:
        return False
    old, _new, parent = diffs[0]
    return (
        isinstance(parent, ast.Call)
        and isinstance(parent.func, ast.Name)
        and parent.func.id == "cast"
        and bool(parent.args)
        and parent.args[0] is old
    )


def is_message_only(original: str, mutant: str) -> bool:
    """True if the mutant differs from the original only in the text of an error message.

    The pattern (docs/assurance.md): in both functions, replace each argument of a call to a
    name ending in ``Error`` (the ``SpecError`` classes and Python's own) by a placeholder,
    keeping clause IDs such as ``"C1.2"`` and the number and names of the arguments; if the
    two are then the same, the mutant changes only what an error says (the function,
    parameter, condition or values it names), not which error is raised, when, or for which
    clause. Arguments of helpers that build an error (``norm_bound_error(...)``) are kept.
    """
    return original != mutant and _normalized(original) == _normalized(mutant)


@dataclass
class ModuleResult:
    """The mutants of one module, by outcome."""

    module: str
    killed: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    equivalent: list[str] = field(default_factory=list)
    survived: list[tuple[str, str, str]] = field(default_factory=list)  # name, status, diff

    @property
    def total(self) -> int:
        return len(self.killed) + len(self.messages) + len(self.equivalent) + len(self.survived)

    @property
    def behavioural(self) -> int:
        return self.total - len(self.messages) - len(self.equivalent)

    @property
    def score(self) -> float:
        return 100.0 * len(self.killed) / self.behavioural if self.behavioural else 100.0


def _stage(modules: Sequence[str]) -> None:
    """Steps 1 and 2: a fresh copy of the package, the tests and the configuration under build/,
    with mutmut's settings appended to the copy of pyproject.toml."""
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis")
    shutil.copytree(ROOT / "sbrml", WORK / "sbrml", ignore=skip)
    shutil.copytree(ROOT / "tests", WORK / "tests", ignore=skip)
    tests = sorted({t for m in modules for t in TESTS[m]})
    settings = {
        "source_paths": ["sbrml"],
        "only_mutate": [_module_path(m) for m in modules],
        "pytest_add_cli_args_test_selection": tests,
        # The staging copy is not a git work tree; every run starts from nothing.
        "use_git_change_detection": False,
    }
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    text += "\n[tool.mutmut]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in settings.items())
    (WORK / "pyproject.toml").write_text(text, encoding="utf-8")


def _run_mutmut(children: int) -> None:
    """Step 3: mutmut's own run, each function's tests cut down to its module's (``TESTS``)."""
    os.chdir(WORK)
    import mutmut.__main__ as mm
    from mutmut.state import state

    collect = mm.collect_or_load_stats

    def collect_then_restrict(runner: Any, **kwargs: Any) -> None:
        collect(runner, **kwargs)
        by_function: dict[str, set[str]] = state().tests_by_mangled_function_name
        for name, hits in by_function.items():
            allowed = set(TESTS.get(_module_of(name), []))
            by_function[name] = {t for t in hits if t.split("::")[0] in allowed}

    mm.collect_or_load_stats = collect_then_restrict
    mm._run([], children)


def _classify(modules: Sequence[str]) -> list[ModuleResult]:
    """Step 4."""
    import libcst as cst
    from mutmut.mutation.data import SourceFileMutationData
    from mutmut.mutation.diff_apply import (
        read_functions_from_index,
        read_mutant_function,
        read_mutants_module,
        read_original_function,
    )
    from mutmut.stats import status_by_exit_code

    results = []
    for module in modules:
        path = Path(_module_path(module))
        data = SourceFileMutationData(path=path)
        data.load()
        source: cst.Module | None = None
        module_source = (ROOT / path).read_text(encoding="utf-8")
        result = ModuleResult(module)
        for name, code in sorted(data.exit_code_by_key.items(), key=_natural):
            if code in KILLED_CODES:
                result.killed.append(name)
                continue
            # mutmut's index of line spans reads the two functions without parsing the whole
            # mutated file, which holds every mutant of the module.
            pair = read_functions_from_index(name, path)
            if pair is None:
                if source is None:
                    source = read_mutants_module(path)
                pair = (read_original_function(source, name), read_mutant_function(source, name))
            original, mutated = (cst.Module([f]).code.strip() for f in pair)
            if (
                name.partition("__mutmut_")[0] in MESSAGE_FUNCTIONS
                or is_message_only(original, mutated)
                or is_label_only(original, mutated, _labels(module_source, original))
            ):
                result.messages.append(name)
            elif name in EQUIVALENT:
                result.equivalent.append(name)
            elif is_cast_type_only(original, mutated):
                EQUIVALENT[name] = CAST_REASON  # listed with its reason like the others
                result.equivalent.append(name)
            else:
                lines = difflib.unified_diff(
                    original.splitlines(), mutated.splitlines(), str(path), str(path), lineterm=""
                )
                result.survived.append((name, status_by_exit_code[code], "\n".join(lines)))
        if not data.exit_code_by_key:
            # No results: the module was not in the last run (--report-only) or has no
            # mutants; a score of 100 % over nothing would read as a pass.
            raise SystemExit(f"mutation: no results for {module} in {WORK}: run it first")
        results.append(result)
    return results


def _natural(item: tuple[str, Any]) -> tuple[str, int]:
    base, _, number = item[0].rpartition("__mutmut_")
    return base, int(number) if number.isdigit() else 0


def _report(results: Sequence[ModuleResult], floor: float) -> tuple[str, bool]:
    lines = [
        "| module | mutants | message-only | equivalent | behavioural | killed | survived "
        "| score |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    ok = True
    for r in results:
        lines.append(
            f"| `sbrml/{r.module}.py` | {r.total} | {len(r.messages)} | {len(r.equivalent)} "
            f"| {r.behavioural} | {len(r.killed)} | {len(r.survived)} | {r.score:.1f} % |"
        )
        ok = ok and r.score >= floor
    killed = sum(len(r.killed) for r in results)
    behavioural = sum(r.behavioural for r in results)
    overall = 100.0 * killed / behavioural if behavioural else 100.0
    lines.append(f"\nAll: {killed} of {behavioural} behavioural mutants killed, {overall:.1f} %.")
    for r in results:
        for name, status, diff in r.survived:
            lines += ["", f"### {name} ({status})", "", "```diff", diff, "```"]
        for name in r.equivalent:
            lines += ["", f"### {name} (judged equivalent)", "", EQUIVALENT[name]]
    return "\n".join(lines) + "\n", ok


def equivalent_table() -> str:
    """``EQUIVALENT`` as a Markdown table, one row per mutant, by module and function in
    mutmut's order: the list docs/assurance.md holds (tests/test_mutation_tool.py keeps the
    two equal; ``--list-equivalent`` prints it). Mutants judged by pattern (``is_cast_type_only``)
    are listed by each run's report, not here."""
    rows = ["| module | mutant | why no test can tell it from the code |", "| --- | --- | --- |"]
    for name, reason in sorted(EQUIVALENT.items(), key=_natural):
        module = _module_path(_module_of(name)).removeprefix("sbrml/")
        function = name.rsplit(".", 1)[1].removeprefix("x_").replace("xǁ", "").replace("ǁ", ".")
        function = function.replace("__mutmut_", " ")
        escaped = reason.replace("|", "\\|")  # a | inside a cell ends it in Markdown
        rows.append(f"| `{module}` | `{function}` | {escaped} |")
    return "\n".join(rows) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("modules", nargs="*", help=f"any of {', '.join(TESTS)} (default: all)")
    parser.add_argument("--floor", type=float, default=90.0, help="per-module score floor (%%)")
    parser.add_argument("--children", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--report-only", action="store_true", help="classify the last run's results again"
    )
    parser.add_argument(
        "--list-equivalent", action="store_true", help="print the judged-equivalent table"
    )
    args = parser.parse_args(argv)
    if args.list_equivalent:
        print(equivalent_table(), end="")
        return 0
    modules: list[str] = args.modules or list(TESTS)
    unknown = [m for m in modules if m not in TESTS]
    if unknown:
        parser.error(f"unknown modules {unknown}; choose from {', '.join(TESTS)}")
    if args.report_only:
        os.chdir(WORK)
    else:
        _stage(modules)
        _run_mutmut(args.children)
    results = _classify(modules)
    text, ok = _report(results, args.floor)
    (WORK / "report.md").write_text(text, encoding="utf-8")
    print("\n" + text)
    print(
        f"Report: {WORK / 'report.md'}; "
        f"floor {args.floor:g} % per module: {'met' if ok else 'NOT met'}."
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
