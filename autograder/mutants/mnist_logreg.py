"""Wrong answers for assignment 04 (MNIST logistic regression in numpy).

Each hidden check tests one function (the notebook functions it calls are stubbed with the
reference's values or traced, see ``checks.mnist_logreg``): a mistake costs the test cell of
the function where it is made. ``test_final_accuracy`` re-runs the student's train with
their own functions on MNIST images drawn by the grader and measures the returned W, b on
the test set, so a mistake that spoils (or crashes) the training also loses it; one that
leaves the recipe near its usual accuracy does not.
"""

from . import Mutant

FINAL = "test_final_accuracy"

MUTANTS = [
    # ---------------------------------------------------------------- 2. model
    Mutant("one_hot_whole_columns", "one_hot_code",
           "Y[np.arange(len(y)), y] = 1", "Y[:, y] = 1",
           {"test_one_hot", FINAL}, "Y[:, y] = 1 allume, sur chaque ligne, toutes les classes présentes dans y."),
    Mutant("softmax_unstable", "softmax_code",
           "E = np.exp(S - S.max(axis=1, keepdims=True))", "E = np.exp(S)",
           {"test_softmax"}, "softmax sans retrancher le maximum : inf/nan pour de grands scores."),
    Mutant("softmax_global_max", "softmax_code",
           "S.max(axis=1, keepdims=True)", "S.max()",
           {"test_softmax"}, "maximum global au lieu du maximum de chaque ligne : 0/0 pour les lignes basses."),
    Mutant("softmax_wrong_axis", "softmax_code",
           "E / E.sum(axis=1, keepdims=True)", "E / E.sum(axis=0, keepdims=True)",
           {"test_softmax", FINAL}, "normalisation sur les exemples (colonnes) au lieu des classes."),
    Mutant("forward_scores_not_probabilities", "forward_code",
           "return softmax(X @ W + b)", "return X @ W + b",
           {"test_forward", FINAL}, "forward renvoie les scores sans softmax."),
    # ---------------------------------------------------------------- 3. loss
    Mutant("cross_entropy_sum", "cross_entropy_code",
           "float(-np.mean(np.sum(Y_star * log_p, axis=1)))", "float(-np.sum(Y_star * log_p))",
           {"test_cross_entropy"}, "somme sur les exemples au lieu de la moyenne."),
    Mutant("cross_entropy_mean_all_cells", "cross_entropy_code",
           "float(-np.mean(np.sum(Y_star * log_p, axis=1)))", "float(-np.mean(Y_star * log_p))",
           {"test_cross_entropy"}, "np.mean sur les N×10 cases : divisée par 10 de trop."),
    # ---------------------------------------------------------------- 4. gradients
    # The 1/N forgotten in grad_W is caught by test_grad_W, but it multiplies the step on W
    # by 100: the training turns chaotic and ends anywhere between 87 % and 91.1 % (8 seeds),
    # too close to the final threshold for a catalogue entry that must be exact everywhere.
    Mutant("grad_W_hardcoded_batch_size", "gradients_code",
           "grad_W = X.T @ delta / N", "grad_W = X.T @ delta / 100",
           {"test_grad_W"}, "1/100 écrit en dur (taille de lot du TP) : faux dès que le lot n'a pas 100 exemples."),
    Mutant("grad_W_transposed", "gradients_code",
           "grad_W = X.T @ delta / N", "grad_W = delta.T @ X / N",
           {"test_grad_W", FINAL}, "grad_W de forme (10, 784) : la mise à jour de W plante."),
    Mutant("grad_W_missing_transpose", "gradients_code",
           "grad_W = X.T @ delta / N", "grad_W = X @ delta / N",
           {"test_grad_W", "test_grad_b", FINAL}, "X au lieu de Xᵀ : produit impossible, gradients plante."),
    Mutant("grad_b_wrong_axis", "gradients_code",
           "grad_b = delta.sum(axis=0) / N", "grad_b = delta.sum(axis=1) / N",
           {"test_grad_b", FINAL}, "somme sur les classes : une valeur par exemple, la mise à jour de b plante."),
    Mutant("grad_b_missing_1_over_N", "gradients_code",
           "grad_b = delta.sum(axis=0) / N", "grad_b = delta.sum(axis=0)",
           {"test_grad_b"}, "facteur 1/N oublié dans grad_b (la recette reste vers 92 %)."),
    Mutant("delta_wrong_sign", "gradients_code",
           "delta = Y_hat - Y_star", "delta = Y_star - Y_hat",
           {"test_grad_W", "test_grad_b", FINAL}, "Δ = Y* - Ŷ : les deux gradients ont le signe opposé."),
    # ---------------------------------------------------------------- 5. training
    Mutant("predict_argmax_axis0", "accuracy_code",
           "np.argmax(forward(X, W, b), axis=1)", "np.argmax(forward(X, W, b), axis=0)",
           {"test_accuracy", FINAL}, "argmax sur les exemples : 10 valeurs au lieu de N, train plante."),
    Mutant("accuracy_in_percent", "accuracy_code",
           "float(np.mean(predict(X, W, b) == y))", "float(100 * np.mean(predict(X, W, b) == y))",
           {"test_accuracy"}, "pourcentage au lieu d'une proportion."),
    Mutant("train_gradient_ascent", "train_code",
           "W -= lr * grad_W\n            b -= lr * grad_b", "W += lr * grad_W\n            b += lr * grad_b",
           {"test_train", FINAL}, "montée de gradient."),
    Mutant("train_no_shuffle", "train_code",
           "order = rng.permutation(N)", "order = np.arange(N)",
           {"test_train"}, "pas de mélange (MNIST n'est pas trié : la recette reste à ~92 %)."),
    Mutant("train_last_batch_only", "train_code",
           "            batch = order[start:start + batch_size]\n"
           "            X_batch = X[batch]\n"
           "            grad_W, grad_b = gradients(X_batch, forward(X_batch, W, b), Y_star[batch])\n"
           "            W -= lr * grad_W\n"
           "            b -= lr * grad_b",
           "            batch = order[start:start + batch_size]\n"
           "        X_batch = X[batch]\n"
           "        grad_W, grad_b = gradients(X_batch, forward(X_batch, W, b), Y_star[batch])\n"
           "        W -= lr * grad_W\n"
           "        b -= lr * grad_b",
           {"test_train", FINAL}, "mise à jour hors de la boucle sur les lots : un seul pas par époque."),
    Mutant("train_labels_not_shuffled", "train_code",
           "Y_star[batch]", "Y_star[start:start + batch_size]",
           {"test_train", FINAL}, "images mélangées mais étiquettes prises dans l'ordre : X et Y* ne correspondent plus."),
    # ---------------------------------------------------------------- 7. errors
    Mutant("confusion_transposed", "confusion_code",
           "np.add.at(C, (y_true, y_pred), 1)", "np.add.at(C, (y_pred, y_true), 1)",
           {"test_confusion"}, "lignes et colonnes échangées."),
    Mutant("confusion_fancy_index_increment", "confusion_code",
           "np.add.at(C, (y_true, y_pred), 1)", "C[y_true, y_pred] += 1",
           {"test_confusion"}, "C[i, j] += 1 avec des indices répétés ne compte chaque case qu'une fois."),
]
