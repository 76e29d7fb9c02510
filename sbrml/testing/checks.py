"""pytest helpers: check a user's implementation against the reference (needs ``sbrml[testing]``).

Each helper takes the user's function, runs it on the conformance vectors and on Hypothesis
inputs, compares with the reference tree (``sbrml.reference``, the oracle) and the spec's
properties, and raises ``ConformanceError`` (an ``AssertionError``) on the first
disagreement: its message names the spec clause, the input (short) and both values, expected
and got, with a diagnosis where one is known (Krum's two neighbour conventions). A helper that
passes returns ``Checked``: what passed and what was skipped, and why.

- ``check_rule(fn, name, f=..., **options)``: a rule in the clear, ``fn(x) -> z`` (sections
  6, 9-12); ``convention="byzfl"`` selects ByzFL's ``n - f - 1`` Krum neighbours (C6.6)
  where Blanchard's ``n - f - 2`` (D6.3) is the default;
- ``check_weights(fn, name, f=..., **options)``: a weight function on distances,
  ``fn(D) -> p`` (D6.1, D6.2);
- ``check_sharing(share, reconstruct=None)``: reconstruction (C3.1) and the uniformity of
  each share alone, and of each share minus the secret, on changing secrets of four lengths
  by a chi-squared test, with no repeated value, and of one call's coordinates together:
  adjacent differences and sums uniform, no linear relation among them (C3.2); a generator
  with a public seed cannot be told from a CSPRNG by any such test;
- ``check_distance_protocol(protocol)``: shares of ``D`` from shares of the encoded inputs,
  exact against the plaintext distances (C5.2), each server's share uniform and never ``D``,
  its diagonal 0 or uniform, its entries not masked by ``r_i + r_j`` (C5.4), up to 12 x 300
  inputs, for any ``frac_bits``;
- ``check_paillier(encrypt, add=None, decrypt=None)``: ciphertexts that the reference decrypts
  (D13.2, C13.4) and that add homomorphically (D13.3); with ``randomized``, each ciphertext's
  ``r``, recovered with the key, fresh, not small and spread over ``[0, n)`` (C13.3).

Besides Hypothesis's inputs, the checks of rules and distances run fixed ones
(``sbrml.testing.fixed_cases``): larger sizes than Hypothesis draws, and exact ties (C6.4);
those of rules, the hard inputs of ``sbrml.testing.hard_cases`` (C6.8: far from the origin,
far outliers, near ties at relative gaps just above 1.05e-9).
Whatever the user's function raises (any exception but ``KeyboardInterrupt``, including
``SystemExit`` and ``pytest.skip``) is reported as a ``ConformanceError`` naming the clause
and the input, with the exception chained; so is a returned value the check cannot read
(``failures.read_user``: a tensor whose conversion raises, a masked entry, a bool where a
ring element belongs, a lazy output that raises; an endless one is read for at most one
entry more than needed).

In a test file, where ``my_krum(f)`` builds your rule and the rule maps ``x`` to ``z``::

    from sbrml.testing.checks import check_rule

    def test_my_krum_conforms() -> None:
        check_rule(my_krum(f=1), "krum", f=1)

A bad argument to a helper (an unknown rule, an option the rule does not take, a tolerance
that would accept anything, too few samples) raises ``KitArgumentError`` (a ``ValueError``)
before any case runs.

Call the helpers from plain test functions, not from inside another ``@given`` test.
"""

from __future__ import annotations

from sbrml.testing.failures import ConformanceError
from sbrml.testing.generated import Checked
from sbrml.testing.paillier_checks import check_paillier
from sbrml.testing.protocol_checks import check_distance_protocol
from sbrml.testing.rule_checks import check_rule, check_weights
from sbrml.testing.sharing_checks import check_sharing

__all__ = [
    "Checked",
    "ConformanceError",
    "check_distance_protocol",
    "check_paillier",
    "check_rule",
    "check_sharing",
    "check_weights",
]
