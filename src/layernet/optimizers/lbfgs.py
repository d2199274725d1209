"""Full-batch L-BFGS through SciPy's L-BFGS-B."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .._typing import FloatArray
from .._validation import check_positive_int, check_real
from ..parameter import Parameter
from .base import FullBatchOptimizer


class LBFGS(FullBatchOptimizer):
    """Full-batch L-BFGS through ``scipy.optimize.minimize(method="L-BFGS-B", jac=True)``.

    Every parameter is packed into one float64 vector ``w`` (scikit-learn's
    MLP ``_pack``/``_unpack``); SciPy minimises ``L(w)`` from the loss and its
    gradient, which a *closure* computes: it sets the parameters from ``w``,
    runs forward, loss and backward over the whole data set and returns the
    loss (each ``param.grad`` then holds ``dL/dparam``).

    With ``fit`` (the usual way) the loop builds that closure: one epoch is
    one L-BFGS iteration over the whole training set (``batch_size`` only
    bounds how many rows one forward pass holds), so ``epochs`` caps the
    iterations; training also ends when SciPy reports convergence
    (``ftol``/``gtol``), and ``result`` says why. Batch hooks of callbacks do
    not fire. Standalone, ``step(closure)`` runs up to ``max_iter``
    iterations, like ``torch.optim.LBFGS``.

    Parameters
    ----------
    params : iterable of Parameter
    max_iter : int
        Iterations per :meth:`step` (not used by ``fit``, where epochs count).
    max_eval : int, optional
        Cap on loss-and-gradient evaluations per minimisation; SciPy's
        default (15000) when omitted.
    history_size : int
        Correction pairs kept (SciPy's ``maxcor``).
    ftol, gtol : float
        SciPy's stopping tolerances on the relative loss decrease and the
        largest projected-gradient component.

    Attributes
    ----------
    evaluations : int
        Loss-and-gradient evaluations so far (each is one pass over the data).
    result : scipy.optimize.OptimizeResult or None
        The last minimisation's result (``message``, ``nit``, ``nfev``...).

    Notes
    -----
    ``lr`` exists for the Optimizer interface and is not used: the step
    length comes from L-BFGS-B's line search. SciPy keeps the curvature
    pairs internally, so ``state`` is empty and a saved LBFGS resumes from
    its parameters only, with a fresh history. The parameters are not packed
    in place: SciPy works on its own copy, the vector ``w``.
    """

    hyperparameters = ("max_iter", "max_eval", "history_size", "ftol", "gtol")

    def __init__(
        self,
        params: Iterable[Parameter],
        *,
        max_iter: int = 20,
        max_eval: int | None = None,
        history_size: int = 10,
        ftol: float = 2.220446049250313e-09,
        gtol: float = 1e-05,
    ) -> None:
        super().__init__(params, lr=1.0)
        self.max_iter = check_positive_int(max_iter, "max_iter", "LBFGS")
        self.max_eval = (
            None if max_eval is None else check_positive_int(max_eval, "max_eval", "LBFGS")
        )
        self.history_size = check_positive_int(history_size, "history_size", "LBFGS")
        self.ftol = check_real(ftol, "ftol", "LBFGS", low=0.0)
        self.gtol = check_real(gtol, "gtol", "LBFGS", low=0.0)
        self.evaluations = 0
        self.result: Any = None

    def minimize(
        self,
        closure: Callable[[], float],
        *,
        max_iter: int,
        callback: Callable[[Any], None] | None = None,
    ) -> Any:
        """Run L-BFGS-B from the current parameters; leave them at SciPy's answer.

        As :meth:`FullBatchOptimizer.minimize`; the callback receives SciPy's
        ``OptimizeResult`` and the result returned is SciPy's.
        """
        from scipy.optimize import minimize as scipy_minimize

        minimize: Any = scipy_minimize  # its overloads cannot see the jac=True pairing

        def fun(w: FloatArray) -> tuple[float, FloatArray]:
            self.unpack(w)
            self.evaluations += 1
            return float(closure()), self.pack_grads()

        stopped = False

        def on_iteration(intermediate_result: Any) -> None:
            nonlocal stopped
            self.unpack(intermediate_result.x)
            if callback is not None:
                try:
                    callback(intermediate_result)
                except StopIteration:
                    stopped = True  # the callback may have set the parameters: keep them
                    raise

        options: dict[str, Any] = {
            "maxiter": int(max_iter),
            "maxcor": self.history_size,
            "ftol": self.ftol,
            "gtol": self.gtol,
        }
        if self.max_eval is not None:
            options["maxfun"] = self.max_eval
        result = minimize(
            fun, self.pack(), method="L-BFGS-B", jac=True, callback=on_iteration, options=options
        )
        if not stopped:
            self.unpack(result.x)
        self.result = result
        return result

    def step(self, closure: Callable[[], float] | None = None) -> None:
        """Run up to ``max_iter`` iterations with ``closure`` (torch.optim.LBFGS's interface)."""
        if closure is None:
            raise RuntimeError(
                "LBFGS: step() needs a closure that computes the full-batch loss and gradients; "
                "train with model.fit(x, y, loss=..., optimizer=LBFGS(...), epochs=...) instead"
            )
        self.minimize(closure, max_iter=self.max_iter)
