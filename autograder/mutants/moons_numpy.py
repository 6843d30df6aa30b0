"""Wrong answers for assignment 01 (two-layer network on the moons, numpy by hand).

Each hidden check tests one function with the reference versions of the functions it
calls (see ``checks.moons_numpy.reference_helpers``), and a derivative computed correctly
from a wrong upstream derivative is not penalised (error carried forward), so most
mistakes cost exactly one test cell. A ``backward`` that raises loses every cell that
calls it.
"""

from . import Mutant

DERIVATIVE_TESTS = frozenset(f"test_d_{n}" for n in ("yhat", "Z2", "W2", "b2", "A1", "Z1", "W1", "b1"))

MUTANTS = [
    # ---------------------------------------------------------------- 1. warm-up
    Mutant("err_prime_forgets_x", "gradient_descent_1d",
           "return 2 * a + x", "return 2 * a",
           {"test_err"}, "d(a·x)/da oublié dans Err'(a)."),
    Mutant("gradient_step_ascent", "gradient_descent_1d",
           "return a - lr * grad", "return a + lr * grad",
           {"test_gradient_step"}, "pas dans le sens du gradient (montée)."),
    Mutant("f1_missing_path", "backprop_f1",
           "df_dx0 = df_dy0 * 2 + df_dy1 * 3 * x1", "df_dx0 = df_dy0 * 2",
           {"test_backprop_f1"}, "∂f/∂x0 : le chemin par y1 = 3·x0·x1 est oublié."),
    Mutant("f1_swapped_upstream", "backprop_f1",
           "df_dy0 = y1  # f = y0 * y1\n    df_dy1 = y0",
           "df_dy0 = y0  # f = y0 * y1\n    df_dy1 = y1",
           {"test_backprop_f1"}, "∂(y0·y1)/∂y0 pris égal à y0 au lieu de y1."),
    Mutant("f2_abs_derivative_one", "backprop_f2",
           "df_dy1 * np.sign(x1)", "df_dy1 * 1",
           {"test_backprop_f2"}, "dérivée de |x1| prise égale à 1 (faux pour x1 < 0)."),
    Mutant("numgrad_forward_difference", "numerical_gradient_code",
           "        x[i] = old - eps\n        f_minus = f(x)\n        x[i] = old\n"
           "        grad[i] = (f_plus - f_minus) / (2 * eps)",
           "        x[i] = old\n        f_minus = f(x)\n"
           "        grad[i] = (f_plus - f_minus) / eps",
           {"test_numerical_gradient"}, "différence avant (f(x+ε) - f(x))/ε au lieu de centrée."),
    Mutant("numgrad_missing_half", "numerical_gradient_code",
           "(f_plus - f_minus) / (2 * eps)", "(f_plus - f_minus) / eps",
           {"test_numerical_gradient"}, "différence centrée sans le facteur 1/2."),
    Mutant("numgrad_x_not_restored", "numerical_gradient_code",
           "        x[i] = old\n", "",
           {"test_numerical_gradient"}, "x n'est pas remis à sa valeur après les évaluations."),
    # ---------------------------------------------------------------- 3. network
    Mutant("forward_missing_b1", "forward_code",
           "Z1 = W1 @ X + b1", "Z1 = W1 @ X",
           {"test_forward"}, "biais de la première couche oublié."),
    Mutant("sigmoid_wrong_sign", "forward_code",
           "return 1.0 / (1.0 + np.exp(-z))", "return 1.0 / (1.0 + np.exp(z))",
           {"test_forward"}, "σ(z) écrite avec exp(z)."),
    Mutant("bce_mean_instead_of_sum", "forward_code",
           "float(-np.sum(", "float(-np.mean(",
           {"test_bce_loss"}, "perte moyenne au lieu de la somme du TP."),
    # ---------------------------------------------------------------- 4. backprop
    Mutant("dyhat_wrong_sign_term", "backward_code",
           "-y / yhat + (1 - y) / (1 - yhat)", "-y / yhat - (1 - y) / (1 - yhat)",
           {"test_d_yhat"}, "dérivée de log(1 - ŷ) : signe oublié."),
    Mutant("dZ2_wrong_sign", "backward_code",
           "d_Z2 = yhat - y", "d_Z2 = y - yhat",
           {"test_d_Z2"}, "∂L/∂Z2 = y - ŷ (signe inversé)."),
    Mutant("dZ2_divided_by_M", "backward_code",
           "d_Z2 = yhat - y", "d_Z2 = (yhat - y) / X.shape[1]",
           {"test_d_Z2"}, "facteur 1/M de la perte moyenne alors que la perte est sommée."),
    Mutant("dW2_transposed", "backward_code",
           "d_W2 = d_Z2 @ A1.T", "d_W2 = A1 @ d_Z2.T",
           {"test_d_W2"}, "∂L/∂W2 de forme (d, 1) : transposée oubliée."),
    Mutant("db2_no_keepdims", "backward_code",
           "np.sum(d_Z2, axis=1, keepdims=True)", "np.sum(d_Z2, axis=1)",
           {"test_d_b2"}, "somme sans keepdims : forme (1,) au lieu de (1, 1)."),
    Mutant("dA1_W2_not_transposed", "backward_code",
           "d_A1 = W2.T @ d_Z2", "d_A1 = W2 @ d_Z2",
           DERIVATIVE_TESTS | {"test_relu"},
           "W2 au lieu de W2ᵀ : produit impossible, backward lève une erreur (toutes ses cellules)."),
    Mutant("dA1_elementwise_W2", "backward_code",
           "d_A1 = W2.T @ d_Z2", "d_A1 = W2.T * d_Z2.sum()",
           {"test_d_A1"}, "somme des ∂L/∂Z2 sur les exemples avant de rétropropager."),
    Mutant("dZ1_missing_tanh_derivative", "backward_code",
           "d_Z1 = d_A1 * (1 - A1 ** 2)", "d_Z1 = d_A1",
           {"test_d_Z1"}, "facteur tanh'(Z1) = 1 - A1² oublié."),
    Mutant("dZ1_sigmoid_derivative", "backward_code",
           "(1 - A1 ** 2)", "A1 * (1 - A1)",
           {"test_d_Z1"}, "dérivée de la sigmoïde utilisée pour tanh."),
    Mutant("dW1_transposed", "backward_code",
           "d_W1 = d_Z1 @ X.T", "d_W1 = X @ d_Z1.T",
           {"test_d_W1"}, "∂L/∂W1 de forme (2, d) : transposée oubliée."),
    Mutant("db1_wrong_axis", "backward_code",
           "d_b1 = np.sum(d_Z1, axis=1, keepdims=True)", "d_b1 = np.sum(d_Z1, axis=0, keepdims=True)",
           {"test_d_b1"}, "somme sur les neurones au lieu des exemples."),
    Mutant("relu_derivative_is_relu", "backward_code",
           "d_Z1 = d_A1 * (Z1 > 0)", "d_Z1 = d_A1 * A1",
           {"test_relu"}, "dérivée de ReLU remplacée par ReLU elle-même."),
    # ---------------------------------------------------------------- 5. training
    Mutant("train_update_plus", "train_code",
           "params[name] -= lr * grads[name]", "params[name] += lr * grads[name]",
           {"test_train"}, "mise à jour θ + pas·gradient (montée)."),
    Mutant("train_no_bias_update", "train_code",
           'for name in ("W1", "b1", "W2", "b2"):', 'for name in ("W1", "W2"):',
           {"test_train"}, "les biais ne sont jamais mis à jour."),
    Mutant("train_zero_init", "train_code",
           "params = init_params(d, rng)",
           'params = {"W1": np.zeros((d, 2)), "b1": np.zeros((d, 1)), '
           '"W2": np.zeros((1, d)), "b2": np.zeros((1, 1))}',
           {"test_train"}, "poids initiaux nuls : la symétrie n'est pas brisée."),
    Mutant("train_loss_every_iteration", "train_code",
           "        if t % 100 == 0:\n            losses.append(bce_loss(yhat, y))",
           "        losses.append(bce_loss(yhat, y))",
           {"test_train"}, "perte enregistrée à chaque itération."),
    Mutant("predict_probabilities", "predict_code",
           "return (yhat > 0.5).astype(np.float64)", "return yhat",
           {"test_predict"}, "predict renvoie ŷ au lieu des classes."),
]
