"""Wrong answers for notebook 05 (modular numpy library, MNIST MLP, PyTorch MLPs).

The unit checks of one class use the reference library for everything else (see
``checks.mlp``), so a mistake in a class costs its own test cells. The integration cells
(regression, moons, MNIST) and the visible parts of a few tests use the student's whole
library: a mistake that breaks training (or raises) also costs them, as listed.
"""

from . import Mutant

MUTANTS = [
    # ---------------------------------------------------------------- Module
    Mutant("zero_grad_only_creates", "module_code",
           "            self._gradient[name] = np.zeros_like(value)",
           "            if name not in self._gradient:\n                self._gradient[name] = np.zeros_like(value)",
           {"test_zero_grad", "test_sequentiel_update", "test_regression", "test_sgd", "test_binary",
            "test_mnist"},
           "zero_grad crée les gradients mais ne les remet jamais à zéro."),
    Mutant("update_parameters_plus", "module_code",
           "self._parameters[name] -= gradient_step * self._gradient[name]",
           "self._parameters[name] += gradient_step * self._gradient[name]",
           {"test_update_parameters", "test_regression", "test_optim_step", "test_sgd", "test_binary",
            "test_mnist"},
           "mise à jour W + pas × gradient (montée de gradient)."),
    # ---------------------------------------------------------------- losses
    Mutant("mse_mean_over_everything", "mse_code",
           "return np.sum((y - yhat) ** 2, axis=1)", "return np.mean((y - yhat) ** 2)",
           {"test_mse_forward"},
           "MSELoss.forward renvoie un seul nombre (moyenne sur tout) au lieu d'une valeur par exemple."),
    Mutant("mse_backward_sign", "mse_code",
           "return 2 * (yhat - y)", "return 2 * (y - yhat)",
           {"test_mse_backward", "test_regression", "test_optim_step", "test_sgd"},
           "gradient de la MSE de signe inversé."),
    # ---------------------------------------------------------------- Linear
    Mutant("linear_gradient_overwritten", "linear_code",
           'self._gradient["W"] += input.T @ delta', 'self._gradient["W"] = input.T @ delta',
           {"test_linear_accumulate"},
           "gradient de W écrasé (=) au lieu d'être accumulé (+=)."),
    Mutant("linear_bias_grad_sum_all", "linear_code",
           'self._gradient["b"] += delta.sum(axis=0, keepdims=True)', 'self._gradient["b"] += delta.sum()',
           {"test_linear_grad_b", "test_linear_accumulate", "test_regression"},
           "gradient de b sommé sur tous les axes (exemples ET sorties) au lieu des seuls exemples."),
    Mutant("linear_backward_delta_no_transpose", "linear_code",
           'return delta @ self._parameters["W"].T', 'return delta @ self._parameters["W"]',
           {"test_linear_backward_delta", "test_sequentiel_backward", "test_binary", "test_mnist"},
           "∂L/∂X = δ W au lieu de δ Wᵀ (produit impossible)."),
    # ---------------------------------------------------------------- activations
    Mutant("tanh_derivative_of_input", "tanh_code",
           "delta * (1 - np.tanh(input) ** 2)", "delta * (1 - input ** 2)",
           {"test_tanh_backward", "test_binary"},
           "tanh'(x) écrit 1 - x² (la formule 1 - y² appliquée à l'entrée au lieu de la sortie)."),
    Mutant("sigmoide_derivative_forgot_one_minus", "sigmoide_code",
           "return delta * s * (1 - s)", "return delta * s",
           {"test_sigmoide_backward", "test_binary"},
           "σ'(x) pris égal à σ(x)."),
    Mutant("relu_derivative_is_relu", "relu_code",
           "return delta * (input > 0)", "return delta * np.maximum(input, 0)",
           {"test_relu"},
           "dérivée de ReLU remplacée par ReLU elle-même."),
    # ---------------------------------------------------------------- Sequentiel
    Mutant("sequentiel_backward_wrong_order", "sequentiel_code",
           "for i in range(len(self.modules) - 1, -1, -1):", "for i in range(len(self.modules)):",
           {"test_sequentiel_backward", "test_binary", "test_mnist"},
           "passe arrière du premier module au dernier."),
    Mutant("sequentiel_backward_same_input", "sequentiel_code",
           "module, x = self.modules[i], self._inputs[i]", "module, x = self.modules[i], input",
           {"test_sequentiel_backward", "test_binary", "test_mnist"},
           "tous les modules reçoivent l'entrée du réseau au lieu de leur propre entrée mémorisée."),
    # ---------------------------------------------------------------- Optim / SGD
    Mutant("optim_step_no_zero_grad", "optim_code",
           "        self.net.zero_grad()\n", "",
           {"test_optim_step", "test_sgd", "test_binary", "test_mnist"},
           "Optim.step oublie zero_grad : les gradients s'accumulent d'un pas à l'autre."),
    Mutant("sgd_no_shuffle", "optim_code",
           "order = rng.permutation(len(X))", "order = np.arange(len(X))",
           {"test_sgd", "test_binary"},
           "SGD ne mélange jamais les exemples (les lunes sont rangées par classe : chaque batch "
           "n'en contient qu'une, l'apprentissage des deux lunes plafonne à 90 %)."),
    # ---------------------------------------------------------------- BCE / softmax / CE
    Mutant("bce_log_not_clipped", "bce_code",
           "            log_p = np.maximum(np.log(yhat), -100.0)\n            log_q = np.maximum(np.log(1 - yhat), -100.0)",
           "            log_p = np.log(yhat)\n            log_q = np.log(1 - yhat)",
           {"test_bce_forward"},
           "log non seuillé : nan quand ŷ vaut exactement 0 ou 1."),
    Mutant("softmax_backward_diagonal", "softmax_code",
           "return s * (delta - np.sum(delta * s, axis=1, keepdims=True))", "return delta * s * (1 - s)",
           {"test_softmax_backward"},
           "jacobienne de la softmax réduite à sa diagonale."),
    Mutant("logsoftmax_unstable", "logsoftmax_code",
           "shifted = X - X.max(axis=1, keepdims=True)", "shifted = X",
           {"test_logsoftmax_forward"},
           "LogSoftmax sans soustraction du maximum : exp déborde."),
    Mutant("celoss_log_again", "logsoftmax_code",
           "return -np.sum(y * yhat, axis=1)", "return -np.sum(y * np.log(yhat), axis=1)",
           {"test_celoss"},
           "CELoss reprend le log de log-probabilités."),
    # ---------------------------------------------------------------- PyTorch
    # (forgetting the division by 255 also fails: inputs up to 827; the trained models then
    # land at 87.9 % / 93.4 % / 94.98 %, the last one too close to its 95 % threshold to be a
    # stable mutant, hence this milder mistake)
    Mutant("normalize_not_centered", "normalize_code",
           "return (x - MNIST_MEAN) / MNIST_STD", "return x / MNIST_STD",
           {"test_normalize"},
           "la moyenne 0.1307 n'est pas retranchée (seule la division par l'écart-type est faite)."),
    Mutant("mlp1_missing_relu", "models_code",
           "nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))",
           "nn.Sequential(nn.Linear(784, 128), nn.Linear(128, 10))",
           {"test_model_mlp1", "test_accuracy_mlp1"},
           "pas d'activation entre les deux couches : le réseau reste linéaire."),
    # (on build_linear: trained that way it still reaches 91.6-92.2 % over 20 seeds, above the
    # 90 % threshold, so only the structure test fails; on build_mlp2 the accuracy would
    # straddle the threshold: 87.2-96.2 %)
    Mutant("linear_softmax_before_ce", "models_code",
           "return nn.Sequential(nn.Linear(784, 10))", "return nn.Sequential(nn.Linear(784, 10), nn.Softmax(dim=1))",
           {"test_model_linear"},
           "softmax en sortie alors que CrossEntropyLoss l'applique déjà."),
    Mutant("param_counts_no_bias", "param_counts",
           '"mlp1": (784 * 128 + 128) + (128 * 10 + 10),', '"mlp1": 784 * 128 + 128 * 10,',
           {"test_param_counts"},
           "biais oubliés dans le décompte des paramètres."),
    Mutant("train_epoch_mean_of_batch_means", "train_code",
           "        total += loss.item() * len(xb)\n        count += len(xb)",
           "        total += loss.item()\n        count += 1",
           {"test_train_epoch"},
           "moyenne des coûts des batchs au lieu de la moyenne par exemple (dernier batch plus petit)."),
    Mutant("train_epoch_no_zero_grad", "train_code",
           "        optimizer.zero_grad()\n", "",
           {"test_train_epoch", "test_accuracy_linear", "test_accuracy_mlp1", "test_accuracy_mlp2"},
           "optimizer.zero_grad() oublié : les gradients s'accumulent."),
    Mutant("evaluate_train_mode_with_grad", "train_code",
           "    model.eval()\n    with torch.no_grad():\n", "    if True:\n",
           {"test_evaluate"},
           "évaluation sans model.eval() ni torch.no_grad()."),
]
