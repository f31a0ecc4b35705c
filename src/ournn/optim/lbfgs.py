"""L-BFGS, as ``torch.optim.LBFGS``."""
import math

from ..autograd import enable_grad
from ..backend import get_array_module
from ..errors import CheckpointError
from ..tensor import bump_version
from .optimizer import Optimizer, _restore_value, check_arg


class LBFGS(Optimizer):
    r"""L-BFGS (limited-memory BFGS; Nocedal & Wright, *Numerical Optimization*, algorithm
    7.4), PyTorch's algorithm exactly, after minFunc. It treats all parameters as one flat
    vector ``x`` and needs a **closure** that recomputes the loss and its gradients::

        opt = ournn.optim.LBFGS(model.parameters(), lr=1, line_search_fn="strong_wolfe")
        def closure():
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            return loss
        for _ in range(10):
            opt.step(closure)

    One ``step(closure)`` runs up to ``max_iter`` iterations (and ``max_eval`` evaluations of
    the closure). Each iteration takes a direction ``d = -H g`` from the two-loop recursion
    over the last ``history_size`` pairs ``(s, y)`` (``s`` the change of ``x``, ``y`` the
    change of the gradient; a pair enters only when ``y.s > 1e-10``; ``H``'s scale is
    ``y.s / y.y`` of the newest pair), then moves ``x = x + t d`` with ``t = lr``
    (``min(1, 1 / sum|g|) * lr`` on the very first iteration), or with the ``t`` a line
    search satisfying the strong Wolfe conditions (``c1 = 1e-4``, ``c2 = 0.9``, cubic
    interpolation) finds. It stops when ``max|g| <= tolerance_grad``, when ``g.d >
    -tolerance_change``, when ``max|t d| <= tolerance_change`` or when the loss changed by
    less than ``tolerance_change``.

    Args:
        params: the parameters (a single group: LBFGS does not take parameter groups).
        lr: learning rate (the step along ``d``). Default 1.
        max_iter: iterations per ``step()``. Default 20.
        max_eval: closure evaluations per ``step()``. Default ``max_iter * 5 // 4``.
        tolerance_grad: stop when the largest gradient element is at most this. Default 1e-7.
        tolerance_change: stop when the step or the loss change is below this. Default 1e-9.
        history_size: the number of ``(s, y)`` pairs kept. Default 100.
        line_search_fn: ``None`` (fixed step) or ``"strong_wolfe"``. Default None.

    ``step(closure)`` returns the loss of the closure's first evaluation. The state (kept
    under the first parameter, as PyTorch does) holds ``func_evals``, ``n_iter``, the last
    direction ``d`` and step ``t``, the history ``old_dirs`` (``y``), ``old_stps`` (``s``),
    ``ro`` (``1 / y.s``), ``H_diag``, ``prev_flat_grad``, ``prev_loss`` and ``al``.
    """

    def __init__(self, params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7,
                 tolerance_change=1e-9, history_size=100, line_search_fn=None):
        check_arg("LBFGS", "lr", lr, ">= 0", lr >= 0)
        check_arg("LBFGS", "max_iter", max_iter, "an int >= 1",
                  isinstance(max_iter, int) and max_iter >= 1)
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        check_arg("LBFGS", "max_eval", max_eval, "an int >= 1",
                  isinstance(max_eval, int) and max_eval >= 1)
        check_arg("LBFGS", "history_size", history_size, "an int >= 1",
                  isinstance(history_size, int) and history_size >= 1)
        check_arg("LBFGS", "tolerance_grad", tolerance_grad, ">= 0", tolerance_grad >= 0)
        check_arg("LBFGS", "tolerance_change", tolerance_change, ">= 0",
                  tolerance_change >= 0)
        check_arg("LBFGS", "line_search_fn", line_search_fn, "None or 'strong_wolfe'",
                  line_search_fn in (None, "strong_wolfe"))
        defaults = dict(lr=lr, max_iter=max_iter, max_eval=max_eval,
                        tolerance_grad=tolerance_grad, tolerance_change=tolerance_change,
                        history_size=history_size, line_search_fn=line_search_fn)
        super().__init__(params, defaults)
        self._params = self.param_groups[0]["params"]

    def add_param_group(self, param_group):
        if self.param_groups:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter "
                             "groups): give all parameters in one list")
        super().add_param_group(param_group)

    # ----- the parameters as one flat vector -----
    def _xp(self):
        return get_array_module(self._params[0]._data)

    def _gather_flat_grad(self):
        xp = self._xp()
        return xp.concatenate([
            p._grad._data.reshape(-1) if p._grad is not None
            else xp.zeros(p._data.size, dtype=p._data.dtype) for p in self._params])

    def _add_grad(self, step_size, direction):
        offset = 0
        for p in self._params:
            n = p._data.size
            p._data += step_size * direction[offset:offset + n].reshape(p._data.shape)
            bump_version(p)
            offset += n

    def _clone_param(self):
        return [p._data.copy() for p in self._params]

    def _set_param(self, arrays):
        for p, a in zip(self._params, arrays):
            p._data[...] = a
            bump_version(p)

    def _evaluate(self, closure):
        with enable_grad():
            return closure()

    def _directional_evaluate(self, closure, x, t, d):
        self._add_grad(t, d)
        loss = float(self._evaluate(closure))
        flat_grad = self._gather_flat_grad()
        self._set_param(x)
        return loss, flat_grad

    # ----- the step -----
    def step(self, closure=None):
        """Run up to ``max_iter`` iterations; returns the closure's first loss."""
        if closure is None:
            raise TypeError("LBFGS.step() needs a closure: a function that zeroes the "
                            "gradients, recomputes the loss, calls backward() and returns "
                            "the loss")
        xp = self._xp()
        group = self.param_groups[0]
        lr = float(group["lr"])
        max_iter, max_eval = group["max_iter"], group["max_eval"]
        tolerance_grad = group["tolerance_grad"]
        tolerance_change = group["tolerance_change"]
        line_search_fn = group["line_search_fn"]
        history_size = group["history_size"]

        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        orig_loss = self._evaluate(closure)
        loss = float(orig_loss)
        current_evals = 1
        state["func_evals"] += 1
        flat_grad = self._gather_flat_grad()
        if float(xp.max(xp.abs(flat_grad))) <= tolerance_grad:
            return orig_loss

        d, t = state.get("d"), state.get("t")
        old_dirs, old_stps, ro = state.get("old_dirs"), state.get("old_stps"), state.get("ro")
        H_diag = state.get("H_diag")
        prev_flat_grad, prev_loss = state.get("prev_flat_grad"), state.get("prev_loss")

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                d = -flat_grad
                old_dirs, old_stps, ro = [], [], []
                H_diag = 1.0
            else:
                y = flat_grad - prev_flat_grad
                s = d * t
                ys = float(xp.dot(y, s))
                if ys > 1e-10:
                    if len(old_dirs) == history_size:      # forget the oldest pair
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    H_diag = ys / float(xp.dot(y, y))
                # the two-loop recursion: d = -H g
                num_old = len(old_dirs)
                if "al" not in state:
                    state["al"] = [None] * history_size
                al = state["al"]
                q = -flat_grad
                for i in range(num_old - 1, -1, -1):
                    al[i] = float(xp.dot(old_stps[i], q)) * ro[i]
                    q -= al[i] * old_dirs[i]
                d = r = q * H_diag
                for i in range(num_old):
                    be_i = float(xp.dot(old_dirs[i], r)) * ro[i]
                    r += (al[i] - be_i) * old_stps[i]

            if prev_flat_grad is None:
                prev_flat_grad = flat_grad.copy()
            else:
                prev_flat_grad[...] = flat_grad
            prev_loss = loss

            if state["n_iter"] == 1:
                t = min(1.0, 1.0 / float(xp.sum(xp.abs(flat_grad)))) * lr
            else:
                t = lr
            gtd = float(xp.dot(flat_grad, d))
            if gtd > -tolerance_change:       # not a descent direction
                break

            ls_func_evals = 0
            if line_search_fn is not None:
                x_init = self._clone_param()

                def obj_func(x, step, direction):
                    return self._directional_evaluate(closure, x, step, direction)

                loss, flat_grad, t, ls_func_evals = _strong_wolfe(
                    obj_func, x_init, t, d, loss, flat_grad, gtd,
                    tolerance_change=tolerance_change, max_ls=max_eval - current_evals)
                self._add_grad(t, d)
                opt_cond = float(xp.max(xp.abs(flat_grad))) <= tolerance_grad
            else:
                self._add_grad(t, d)
                opt_cond = False
                if n_iter != max_iter:
                    loss = float(self._evaluate(closure))
                    flat_grad = self._gather_flat_grad()
                    opt_cond = float(xp.max(xp.abs(flat_grad))) <= tolerance_grad
                    ls_func_evals = 1
            current_evals += ls_func_evals
            state["func_evals"] += ls_func_evals

            if n_iter == max_iter or current_evals >= max_eval or opt_cond:
                break
            if float(xp.max(xp.abs(d * t))) <= tolerance_change:
                break
            if abs(loss - prev_loss) < tolerance_change:
                break

        state["d"], state["t"] = d, t
        state["old_dirs"], state["old_stps"], state["ro"] = old_dirs, old_stps, ro
        state["H_diag"] = H_diag
        state["prev_flat_grad"], state["prev_loss"] = prev_flat_grad, prev_loss
        return orig_loss

    # ----- checkpoints: the state holds flat vectors, not arrays of the parameter's shape --
    def _restore_state(self, entry, param, where):
        xp = self._xp()
        dtype = self._params[0]._data.dtype
        n = sum(p._data.size for p in self._params)

        def vector(value, key):
            if value is None:
                return None
            if hasattr(value, "numpy") and not hasattr(value, "__array_interface__"):
                value = value.numpy()
            array = xp.array(value, dtype=dtype, copy=True)
            if array.shape != (n,):
                raise CheckpointError(f"{where}: state '{key}' has shape {tuple(array.shape)}, "
                                      f"the parameters have {n} elements in all")
            return array

        def number(value):
            value = _restore_value(value, param, where)
            return float(value) if value is not None and not isinstance(value, int) else value

        restored = {}
        for key, value in entry.items():
            if key in ("d", "prev_flat_grad"):
                restored[key] = vector(value, key)
            elif key in ("old_dirs", "old_stps"):
                restored[key] = [vector(v, key) for v in value]
            elif key in ("ro", "al"):
                restored[key] = [None if v is None else float(number(v)) for v in value]
            elif key in ("func_evals", "n_iter"):
                restored[key] = int(number(value))
            else:                                       # t, H_diag, prev_loss
                restored[key] = number(value)
        return restored


def _cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=None):
    """The minimiser of the cubic through ``(x1, f1)`` and ``(x2, f2)`` with slopes ``g1``,
    ``g2``, clamped into ``bounds`` (default: between x1 and x2); their middle when the
    cubic has no minimum."""
    if bounds is not None:
        xmin_bound, xmax_bound = bounds
    else:
        xmin_bound, xmax_bound = (x1, x2) if x1 <= x2 else (x2, x1)
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1 ** 2 - g1 * g2
    if d2_square >= 0:
        d2 = math.sqrt(d2_square)
        if x1 <= x2:
            min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        else:
            min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
        return min(max(min_pos, xmin_bound), xmax_bound)
    return (xmin_bound + xmax_bound) / 2.0


def _strong_wolfe(obj_func, x, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9,
                  max_ls=25):
    """A line search along ``d`` from ``x`` for a step ``t`` meeting the strong Wolfe
    conditions ``f(x + t d) <= f + c1 t gtd`` and ``|g(x + t d).d| <= -c2 gtd``: bracket,
    then zoom by cubic interpolation (minFunc's and PyTorch's). ``obj_func(x, t, d)``
    returns the loss and flat gradient at ``x + t d``. Returns ``(f_new, g_new, t,
    evaluations)``."""
    xp = get_array_module(d)
    d_norm = float(xp.max(xp.abs(d)))
    f_new, g_new = obj_func(x, t, d)
    ls_func_evals = 1
    gtd_new = float(xp.dot(g_new, d))

    t_prev, f_prev, g_prev, gtd_prev = 0, f, g, gtd
    done = False
    ls_iter = 0
    bracket = bracket_f = bracket_g = bracket_gtd = None
    while ls_iter < max_ls:
        # bracketing phase
        if f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev):
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new], [gtd_prev, gtd_new]
            break
        # extrapolate
        min_step = t + 0.01 * (t - t_prev)
        max_step = t * 10
        tmp = t
        t = _cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new,
                               bounds=(min_step, max_step))
        t_prev, f_prev, g_prev, gtd_prev = tmp, f_new, g_new, gtd_new
        f_new, g_new = obj_func(x, t, d)
        ls_func_evals += 1
        gtd_new = float(xp.dot(g_new, d))
        ls_iter += 1

    if ls_iter >= max_ls:          # reached the evaluation budget
        bracket, bracket_f, bracket_g = [0, t], [f, f_new], [g, g_new]

    # zoom phase: a point satisfying the criteria lies in the bracket
    insuf_progress = False
    low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = _cubic_interpolate(bracket[0], bracket_f[0], bracket_gtd[0],
                               bracket[1], bracket_f[1], bracket_gtd[1])
        # keep t away from the bracket's ends unless progress stalled
        eps = 0.1 * (max(bracket) - min(bracket))
        if min(max(bracket) - t, t - min(bracket)) < eps:
            if insuf_progress or t >= max(bracket) or t <= min(bracket):
                if abs(t - max(bracket)) < abs(t - min(bracket)):
                    t = max(bracket) - eps
                else:
                    t = min(bracket) + eps
                insuf_progress = False
            else:
                insuf_progress = True
        else:
            insuf_progress = False

        f_new, g_new = obj_func(x, t, d)
        ls_func_evals += 1
        gtd_new = float(xp.dot(g_new, d))
        ls_iter += 1

        if f_new > (f + c1 * t * gtd) or f_new >= bracket_f[low_pos]:
            bracket[high_pos], bracket_f[high_pos] = t, f_new
            bracket_g[high_pos], bracket_gtd[high_pos] = g_new, gtd_new
            low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high_pos] - bracket[low_pos]) >= 0:
                bracket[high_pos], bracket_f[high_pos] = bracket[low_pos], bracket_f[low_pos]
                bracket_g[high_pos] = bracket_g[low_pos]
                bracket_gtd[high_pos] = bracket_gtd[low_pos]
            bracket[low_pos], bracket_f[low_pos] = t, f_new
            bracket_g[low_pos], bracket_gtd[low_pos] = g_new, gtd_new

    t = bracket[low_pos]
    return bracket_f[low_pos], bracket_g[low_pos], t, ls_func_evals
