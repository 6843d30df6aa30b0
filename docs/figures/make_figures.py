"""The SVG figures of the six notebooks, written by hand (geometry computed here, text in French).

The notebooks inline them in their markdown cells as data URIs: fig-graph-f1, fig-graph-f2
and fig-two-layer in 01_moons_numpy, autograd_graph.svg in 02_moons_pytorch (cell fig-autograd),
fig-softmax-ce in 03_spiral_softmax, logistic_regression.svg in 04_mnist_logreg (cell fig-model), module_chain.svg in
05_mlp (cell objectives), convolution.svg in 06_cnn_cifar10 (cell fig-convolution). After changing a
figure, run this script (it writes the SVGs next to itself), put the file's base64 in the
cell's image link (``![...](data:image/svg+xml;base64,<base64>)``; not a cell attachment,
which graded copies lose), then ``python -m autograder release``.
"""
import math
import os

os.chdir(os.path.dirname(os.path.abspath(__file__)))

FONT = 'font-family="DejaVu Sans, Helvetica, Arial, sans-serif"'
BLACK, RED, BLUE, GREY = "#222222", "#c0392b", "#1f5fa8", "#f4f4f4"


def head(w, h):
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" {FONT} font-size="15">\n'
            '<defs>\n'
            f'<marker id="ab" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{BLACK}"/></marker>\n'
            f'<marker id="ar" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{RED}"/></marker>\n'
            '</defs>\n'
            f'<rect width="{w}" height="{h}" fill="white"/>\n')


def text(x, y, s, size=15, color=BLACK, anchor="middle", weight="normal", style="normal"):
    return f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" fill="{color}" text-anchor="{anchor}" font-weight="{weight}" font-style="{style}">{s}</text>\n'


def sup(s):
    return f'<tspan baseline-shift="super" font-size="70%">{s}</tspan>'


def sub(s):
    return f'<tspan baseline-shift="sub" font-size="70%">{s}</tspan>'


def box(cx, cy, w, h, fill=GREY, stroke=BLACK, rx=10):
    return f'<rect x="{cx - w / 2:.1f}" y="{cy - h / 2:.1f}" width="{w}" height="{h}" rx="{rx}" fill="{fill}" stroke="{stroke}" stroke-width="1.5"/>\n'


def circle(cx, cy, r, fill=GREY):
    return f'<circle cx="{cx}" cy="{cy}" r="{r}" fill="{fill}" stroke="{BLACK}" stroke-width="1.5"/>\n'


def arrow(x1, y1, x2, y2, color=BLACK, dashed=False, width=1.6):
    m = "ar" if color == RED else "ab"
    dash = ' stroke-dasharray="6,4"' if dashed else ""
    return f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{color}" stroke-width="{width}"{dash} marker-end="url(#{m})"/>\n'


def shorten(x1, y1, x2, y2, a, b):
    """The segment from (x1, y1) to (x2, y2) with a removed at the start and b at the end."""
    d = math.hypot(x2 - x1, y2 - y1)
    ux, uy = (x2 - x1) / d, (y2 - y1) / d
    return x1 + a * ux, y1 + a * uy, x2 - b * ux, y2 - b * uy


def small_graph(name, point, nodes, out, edges, f_label, f_value, footer=None):
    """Two inputs, two intermediate blocks, one output; forward values in blue, local
    derivatives in red on each edge. ``footer``: two (text, color) lines under the graph."""
    W, H = 780, 320
    s = head(W, H)
    X0, X1 = (70, 80), (70, 220)
    Y0, Y1 = (330, 80), (330, 220)
    F = (600, 150)
    s += circle(*X0, 34) + circle(*X1, 34)
    s += text(X0[0], X0[1] - 3, "x" + sub("0"), 17) + text(X0[0], X0[1] + 17, f"= {point[0]}".replace("-", "−"), 13, BLUE)
    s += text(X1[0], X1[1] - 3, "x" + sub("1"), 17) + text(X1[0], X1[1] + 17, f"= {point[1]}".replace("-", "−"), 13, BLUE)
    for (cx, cy), (label, value) in zip((Y0, Y1), nodes):
        s += box(cx, cy, 170, 56)
        s += text(cx, cy - 4, label, 16) + text(cx, cy + 17, value, 13, BLUE)
    s += box(*F, 150, 56)
    s += text(F[0], F[1] - 4, f_label, 16) + text(F[0], F[1] + 17, f_value, 13, BLUE)
    src = {"x0": (X0, 34), "x1": (X1, 34), "y0": (Y0, None), "y1": (Y1, None)}
    dst = {"y0": Y0, "y1": Y1, "f": F}
    for (a, b, label, t, dy) in edges:
        (p, r) = src[a]
        q = dst[b]
        x1, y1 = (p[0] + 34, p[1]) if r else (p[0] + 85, p[1])
        x2 = q[0] - (85 if b != "f" else 75)
        y2 = q[1] + (0 if b != "f" else (-12 if a == "y0" else 12))
        if r and a != b:   # from an input: leave the circle towards the target
            ang = math.atan2(y2 - p[1], x2 - p[0])
            x1, y1 = p[0] + 34 * math.cos(ang), p[1] + 34 * math.sin(ang)
        s += arrow(x1, y1, x2 - 2, y2)
        lx, ly = x1 + t * (x2 - x1), y1 + t * (y2 - y1) + dy
        if b == "f":       # beside the edge, not across it
            s += text(lx + 10, ly, label, 13, RED, "start")
        else:
            s += f'<rect x="{lx - 52:.1f}" y="{ly - 14:.1f}" width="104" height="19" fill="white" opacity="0.85"/>\n'
            s += text(lx, ly, label, 13, RED)
    # the seed of the backward pass
    s += arrow(F[0] + 140, F[1], F[0] + 77, F[1], RED)
    s += text(F[0] + 112, F[1] - 10, "∂f/∂f = 1", 13, RED)
    footer = footer or [("passe avant : la valeur de chaque bloc (en bleu, au point " + f"({point[0]}, {point[1]}))".replace("-", "−"), BLUE),
                        ("passe arrière : la dérivée locale portée par chaque arête (en rouge), multipliée par ce qui revient de la sortie", RED)]
    s += text(20, H - 30, footer[0][0], 13, footer[0][1], "start")
    s += text(20, H - 8, footer[1][0], 13, footer[1][1], "start")
    open(out, "w").write(s + "</svg>\n")


small_graph("f1", (2, 1),
            [("y" + sub("0") + " = 2x" + sub("0") + " + 5x" + sub("1"), "= 9"),
             ("y" + sub("1") + " = 3x" + sub("0") + "x" + sub("1"), "= 6")],
            "graph_f1.svg",
            [("x0", "y0", "∂y₀/∂x₀ = 2", 0.45, -8), ("x1", "y0", "∂y₀/∂x₁ = 5", 0.78, 18),
             ("x0", "y1", "∂y₁/∂x₀ = 3x₁", 0.78, -8), ("x1", "y1", "∂y₁/∂x₁ = 3x₀", 0.45, 18),
             ("y0", "f", "∂f/∂y₀ = y₁", 0.5, -6), ("y1", "f", "∂f/∂y₁ = y₀", 0.5, 18)],
            "f = y" + sub("0") + " · y" + sub("1"), "= 54")

small_graph("f2", (3, -1),
            [("y" + sub("0") + " = x" + sub("0") + " x" + sub("1"), "= −3"),
             ("y" + sub("1") + " = |x" + sub("1") + "|", "= 1")],
            "graph_f2.svg",
            [("x0", "y0", "∂y₀/∂x₀ = x₁", 0.45, -8), ("x1", "y0", "∂y₀/∂x₁ = x₀", 0.78, 18),
             ("x1", "y1", "∂y₁/∂x₁ = signe(x₁)", 0.45, 18),
             ("y0", "f", "∂f/∂y₀ = 2(y₀ + y₁)", 0.5, -6), ("y1", "f", "∂f/∂y₁ = 2(y₀ + y₁)", 0.5, 18)],
            "f = (y" + sub("0") + " + y" + sub("1") + ")²", "= 4")


small_graph("autograd", (2, 1),
            [("y" + sub("0") + " = 2x" + sub("0") + " + 5x" + sub("1"), "= 9 · AddBackward0"),
             ("y" + sub("1") + " = 3x" + sub("0") + "x" + sub("1"), "= 6 · MulBackward0")],
            "autograd_graph.svg",
            [("x0", "y0", "∂y₀/∂x₀ = 2", 0.45, -8), ("x1", "y0", "∂y₀/∂x₁ = 5", 0.78, 18),
             ("x0", "y1", "∂y₁/∂x₀ = 3x₁", 0.78, -8), ("x1", "y1", "∂y₁/∂x₁ = 3x₀", 0.45, 18),
             ("y0", "f", "∂f/∂y₀ = y₁", 0.5, -6), ("y1", "f", "∂f/∂y₁ = y₀", 0.5, 18)],
            "f = y" + sub("0") + " · y" + sub("1"), "= 54 · MulBackward0",
            footer=[("x₀, x₁ : feuilles (requires_grad=True) ; en bleu, la valeur et le .grad_fn de chaque résultat", BLUE),
                    ("f.backward() remonte le graphe : x0.grad = 2·6 + 9·3 = 39, x1.grad = 5·6 + 9·6 = 84", RED)])


def logistic_regression(out):
    """04: the shapes of the batch through the model, forward in black, the gradients in red."""
    W, H = 1000, 360
    s = head(W, H)
    cy, bw, bh = 190, 150, 76
    xs = [215, 420, 625, 830]
    nodes = [("X", "N images aplaties", "(N, 784)"),
             ("S", "XW + b", "(N, 10)"),
             ("Ŷ", "softmax par ligne", "(N, 10)"),
             ("L", "−(1/N) Σ log ŷ" + sub("i, y*"), "un nombre")]
    for x, (name, formula, shape) in zip(xs, nodes):
        s += box(x, cy, bw, bh, fill="#eaf1fb" if name == "L" else GREY)
        s += text(x, cy - 14, name, 18, weight="bold")
        s += text(x, cy + 8, formula, 12)
        s += text(x, cy + 27, shape, 12, "#555555")
    for a, b in zip(xs[:3], xs[1:4]):
        s += arrow(a + bw / 2, cy - 14, b - bw / 2 - 2, cy - 14)
    s += arrow(xs[3] - bw / 2, cy + 14, xs[2] + bw / 2 + 2, cy + 14, RED)
    s += arrow(xs[2] - bw / 2, cy + 14, xs[1] + bw / 2 + 2, cy + 14, RED)
    s += text((xs[1] + xs[2]) / 2, cy + 66, "∂L/∂S = (Ŷ − Y*)/N", 13, RED)
    s += f'<line x1="{(xs[1] + xs[2]) / 2:.1f}" y1="{cy + 52}" x2="{(xs[1] + xs[2]) / 2:.1f}" y2="{cy + 19}" stroke="{RED}" stroke-width="0.8"/>\n'
    # parameters above S, labels above L, an image before X
    py = 58
    for dx, n, sh, grad in ((-45, "W", "(784, 10)", "∂L/∂W = Xᵀ(Ŷ − Y*)/N"), (45, "b", "(10,)", "∂L/∂b = moyenne des lignes de Ŷ − Y*")):
        px = xs[1] + dx
        s += box(px, py, 78, 46, fill="white")
        s += text(px, py - 2, n, 17, weight="bold") + text(px, py + 16, sh, 11, "#555555")
        s += arrow(px - 6, py + 23, px - 6, cy - bh / 2 - 2)
        s += arrow(px + 6, cy - bh / 2, px + 6, py + 25, RED)
        anchor, lx = ("end", px - 44) if dx < 0 else ("start", px + 44)
        s += text(lx, py + 4, grad, 12, RED, anchor)
    s += box(xs[3], py, 96, 46, fill="white")
    s += text(xs[3], py - 2, "Y*", 17, weight="bold") + text(xs[3], py + 16, "one-hot (N, 10)", 11, "#555555")
    s += arrow(xs[3], py + 23, xs[3], cy - bh / 2 - 2)
    # one image, 28 x 28, becomes a row of 784
    gx, gy, g = 18, 148, 3.0
    s += f'<rect x="{gx}" y="{gy}" width="{28 * g}" height="{28 * g}" fill="white" stroke="{BLACK}" stroke-width="1.2"/>\n'
    for k in range(1, 4):
        s += f'<line x1="{gx}" y1="{gy + k * 7 * g}" x2="{gx + 28 * g}" y2="{gy + k * 7 * g}" stroke="#bbbbbb" stroke-width="0.8"/>\n'
    s += text(gx + 14 * g, gy - 10, "une image 28 × 28", 12)
    s += text(gx + 14 * g, gy + 28 * g + 18, "= une ligne de X", 12)
    s += text(gx + 14 * g, gy + 28 * g + 34, "(784 nombres)", 11, "#555555")
    s += arrow(gx + 28 * g + 4, cy, xs[0] - bw / 2 - 2, cy, dashed=True)
    s += text(20, H - 34, "en noir, la passe avant d'un lot de N images : une ligne par image, une colonne de W "
              "(et un biais) par classe ;", 13, BLACK, "start")
    s += text(20, H - 12, "en rouge, les gradients du lot : tout part de Ŷ − Y* (forme (N, 10)), "
              "chaque gradient a la forme de ce qu'il dérive", 13, RED, "start")
    open(out, "w").write(s + "</svg>\n")


logistic_regression("logistic_regression.svg")


def network(out):
    W, H = 960, 330
    s = head(W, H)
    cy = 175
    xs = [70, 225, 380, 535, 690, 845]
    bw, bh = 120, 70
    nodes = [("X", "entrée", "(2, M)"),
             ("Z" + sup("[1]"), "W" + sup("[1]") + "X + b" + sup("[1]"), "(d, M)"),
             ("A" + sup("[1]"), "tanh(Z" + sup("[1]") + ")", "(d, M)"),
             ("Z" + sup("[2]"), "W" + sup("[2]") + "A" + sup("[1]") + " + b" + sup("[2]"), "(1, M)"),
             ("ŷ", "σ(Z" + sup("[2]") + ")", "(1, M)"),
             ("L", "entropie croisée", "un nombre")]
    for x, (name, formula, shape) in zip(xs, nodes):
        s += box(x, cy, bw, bh, fill="#eaf1fb" if name == "L" else GREY)
        s += text(x, cy - 12, name, 18, weight="bold")
        s += text(x, cy + 8, formula, 12)
        s += text(x, cy + 26, shape, 12, "#555555")
    for a, b in zip(xs, xs[1:]):        # forward
        s += arrow(a + bw / 2, cy - 14, b - bw / 2 - 2, cy - 14)
    back = {1: ("⑥", "∂L/∂Z" + sup("[1]")), 2: ("⑤", "∂L/∂A" + sup("[1]")),
            3: ("②", "∂L/∂Z" + sup("[2]")), 4: ("①", "∂L/∂ŷ")}
    for i, (num, label) in back.items():   # backward along the chain
        a, b = xs[i], xs[i + 1]
        s += arrow(b - bw / 2, cy + 14, a + bw / 2 + 2, cy + 14, RED)
        s += text((a + b) / 2, cy + 62, f"{num} {label}", 13, RED)
        s += f'<line x1="{(a + b) / 2:.1f}" y1="{cy + 48}" x2="{(a + b) / 2:.1f}" y2="{cy + 19}" stroke="{RED}" stroke-width="0.8"/>\n'
    # parameters above Z1 and Z2, the labels y above L
    py = 50
    params = [(1, "W" + sup("[1]"), "(d, 2)", "⑦", "∂L/∂W" + sup("[1]"), "b" + sup("[1]"), "(d, 1)", "⑧", "∂L/∂b" + sup("[1]")),
              (3, "W" + sup("[2]"), "(1, d)", "③", "∂L/∂W" + sup("[2]"), "b" + sup("[2]"), "(1, 1)", "④", "∂L/∂b" + sup("[2]"))]
    for i, wn, ws, wnum, wl, bn, bs, bnum, bl in params:
        x = xs[i]
        for dx, n, sh, num, gl in ((-38, wn, ws, wnum, wl), (38, bn, bs, bnum, bl)):
            px = x + dx
            s += box(px, py, 62, 44, fill="white")
            s += text(px, py - 2, n, 16, weight="bold") + text(px, py + 15, sh, 11, "#555555")
            s += arrow(px - 6, py + 22, px - 6, cy - bh / 2 - 2)
            s += arrow(px + 6, cy - bh / 2, px + 6, py + 24, RED)
            anchor, lx = ("end", px - 16) if dx < 0 else ("start", px + 16)
            s += text(lx, (py + cy - bh / 2) / 2 + 12, f"{num} {gl}", 12, RED, anchor)
    s += box(xs[5], py, 62, 44, fill="white")
    s += text(xs[5], py - 2, "y", 16, weight="bold") + text(xs[5], py + 15, "(1, M)", 11, "#555555")
    s += arrow(xs[5], py + 22, xs[5], cy - bh / 2 - 2)
    s += text(20, H - 40, "en noir : la passe avant (forward) ; en rouge : la passe arrière (backward), "
              "de droite à gauche", 13, BLACK, "start")
    s += text(20, H - 18, "chaque flèche rouge porte la dérivée de L par rapport au tableau où elle arrive "
              "(même forme que lui), numérotée comme dans la question 3", 13, RED, "start")
    open(out, "w").write(s + "</svg>\n")


network("graph_two_layer.svg")


def softmax_figure(out):
    scores = [2.0, 1.0, -0.5]
    e = [math.exp(v) for v in scores]
    p = [v / sum(e) for v in e]
    yc = 1
    g = [pk - (1 if k == yc else 0) for k, pk in enumerate(p)]
    loss = -math.log(p[yc])
    W, H = 900, 330
    s = head(W, H)
    panels = [(30, "scores s (sortie du réseau)", scores, 2.5, "{:+.1f}"),
              (330, "probabilités p = softmax(s)", p, 1.0, "{:.2f}"),
              (630, "gradient ∂L/∂s = p − e" + sub("y"), g, 1.0, "{:+.2f}")]
    colors = ["#8fa9c9", "#e08e3c", "#8fa9c9"]
    for x0, title, vals, vmax, fmt in panels:
        pw, top, bottom = 240, 70, 250
        zero = (top + bottom) / 2 if min(vals) < 0 else bottom
        scale = (zero - top) / vmax
        s += text(x0 + pw / 2, 40, title, 15, weight="bold")
        s += f'<line x1="{x0}" y1="{zero:.1f}" x2="{x0 + pw}" y2="{zero:.1f}" stroke="{BLACK}" stroke-width="1.2"/>\n'
        for k, v in enumerate(vals):
            bx = x0 + 25 + k * 75
            h = v * scale
            y = zero - max(h, 0)
            s += f'<rect x="{bx}" y="{y:.1f}" width="45" height="{abs(h):.1f}" fill="{colors[k]}" stroke="{BLACK}" stroke-width="0.8"/>\n'
            ty = y - 6 if v >= 0 else zero - h + 16
            s += text(bx + 22.5, ty, fmt.format(v).replace("-", "−"), 13)
            s += text(bx + 22.5, 275, f"classe {k}" + (" = y" if k == yc else ""), 12,
                      RED if k == yc else "#555555", weight="bold" if k == yc else "normal")
    s += arrow(272, 160, 328, 160)
    s += text(300, 150, "softmax", 12)
    s += arrow(572, 160, 628, 160)
    s += text(600, 150, "− e" + sub("y"), 12)
    s += text(30, H - 26, f"Un exemple de la classe y = {yc} : sa perte est L = −log p" + sub("1") +
              f" = {loss:.2f}. La descente de gradient (−∂L/∂s) monte le score de la bonne classe", 13, BLACK, "start")
    s += text(30, H - 8, "et baisse les autres, d'autant plus que leur probabilité est grande.", 13, BLACK, "start")
    open(out, "w").write(s + "</svg>\n")


softmax_figure("softmax_cross_entropy.svg")


def module_chain(out):
    """05: the network Linear -> TanH -> Linear -> Sigmoide and its loss as a chain of modules;
    forward carries the inputs (black, left to right), backward_delta the gradients (red, right
    to left), backward_update_gradient the parameters' gradients (red, down)."""
    W, H = 1080, 430
    s = head(W, H)
    cy, bw, bh = 185, 108, 62
    xs = [55, 215, 370, 525, 680, 850, 1020]
    names = [None, ("Linear", "Z = XW + b"), ("TanH", "tanh"), ("Linear", "Z = XW + b"), ("Sigmoide", "σ"),
             ("BCELoss", "coût"), None]
    for x, nm in zip(xs, names):
        if nm is None:
            continue
        s += box(x, cy, bw, bh, fill="#eaf1fb" if nm[0] == "BCELoss" else GREY)
        s += text(x, cy - 5, nm[0], 16, weight="bold") + text(x, cy + 15, nm[1], 12, "#555555")
    s += text(xs[0], cy + 5, "X", 20, weight="bold")
    s += text(xs[6], cy + 5, "L", 20, weight="bold")
    s += text(xs[6], cy + 25, "(batch,)", 11, "#555555")
    fwd = ["X", "Z" + sup("1"), "A" + sup("1"), "Z" + sup("2"), "ŷ", ""]
    bwd = ["∂L/∂X", "∂L/∂Z" + sup("1"), "∂L/∂A" + sup("1"), "∂L/∂Z" + sup("2"), "∂L/∂ŷ"]
    for i in range(6):
        a = xs[i] + (bw / 2 if names[i] else 18)
        b = xs[i + 1] - (bw / 2 if names[i + 1] else 18)
        s += arrow(a, cy - 14, b - 2, cy - 14)
        if fwd[i]:
            s += text((a + b) / 2, cy - 22, fwd[i], 14)
        if i < 5:
            s += arrow(b, cy + 14, a + 2, cy + 14, RED)
            s += text((a + b) / 2, cy + 48, bwd[i], 13, RED)
            s += f'<line x1="{(a + b) / 2:.1f}" y1="{cy + 35}" x2="{(a + b) / 2:.1f}" y2="{cy + 19}" stroke="{RED}" stroke-width="0.8"/>\n'
    # the supervision enters the loss from above
    py = 68
    s += box(xs[5], py, 60, 40, fill="white") + text(xs[5], py + 6, "y", 16, weight="bold")
    s += arrow(xs[5], py + 20, xs[5], cy - bh / 2 - 2)
    # parameters above the two Linear modules, their gradients below
    gy = 318
    for i, k in ((1, "1"), (3, "2")):
        x = xs[i]
        s += box(x, py, 96, 40, fill="white")
        s += text(x, py + 6, "W" + sup(k) + ", b" + sup(k), 15, weight="bold")
        s += arrow(x, py + 20, x, cy - bh / 2 - 2)
        s += box(x, gy, 128, 40, fill="white", stroke=RED)
        s += text(x, gy + 6, "∂L/∂W" + sup(k) + ", ∂L/∂b" + sup(k), 13, RED)
        s += arrow(x, cy + bh / 2, x, gy - 22, RED, dashed=True)
        s += text(x + 8, gy - 30, "backward_update_gradient(entrée, δ)", 11, RED, "start", style="italic")
    # method names
    s += text(xs[2], cy - 50, "forward(entrée) → sortie", 13, BLACK, style="italic")
    s += text(xs[5] + bw / 2 + 8, cy - 40, "forward(y, ŷ)", 12, BLACK, "start", style="italic")
    s += text(xs[2], cy + 78, "backward_delta(entrée, δ) → ∂L/∂entrée", 12, RED, style="italic")
    s += text(xs[5] + 5, cy + 78, "backward(y, ŷ) → ∂L/∂ŷ", 12, RED, "start", style="italic")
    s += text(20, H - 34, "en noir, la passe avant : chaque module reçoit l'entrée du précédent (Sequentiel la mémorise) ;",
              13, BLACK, "start")
    s += text(20, H - 12, "en rouge, la passe arrière, de droite à gauche : chaque module renvoie ∂L/∂entrée au précédent "
              "et ajoute le gradient de ses paramètres dans _gradient", 13, RED, "start")
    open(out, "w").write(s + "</svg>\n")


module_chain("module_chain.svg")


def convolution_figure(out):
    """06: one convolution layer over a 3x32x32 image: a filter (3, 3, 3) sees all the input
    channels of one padded window, gives one number per position; one output map per filter."""
    W, H = 1000, 420
    s = head(W, H)

    def stack(x0, y0, size, n, dx, dy, fills, labels=None):
        r = ""
        for i in reversed(range(n)):
            x, y = x0 + i * dx, y0 + i * dy
            r += f'<rect x="{x:.1f}" y="{y:.1f}" width="{size}" height="{size}" fill="{fills[i % len(fills)]}" stroke="{BLACK}" stroke-width="1.2"/>\n'
        return r

    # input: 3 channels with a padding border of zeros (drawn dashed)
    size, pad = 190, 10
    x0, y0 = 70, 95
    for i, fill in reversed(list(enumerate(["#f6d5d1", "#d7ecd5", "#d3e0f3"]))):
        x, y = x0 + i * 18, y0 + i * 18
        s += f'<rect x="{x - pad:.1f}" y="{y - pad:.1f}" width="{size + 2 * pad}" height="{size + 2 * pad}" fill="white" stroke="#888888" stroke-width="1" stroke-dasharray="4,3"/>\n'
        s += f'<rect x="{x:.1f}" y="{y:.1f}" width="{size}" height="{size}" fill="{fill}" stroke="{BLACK}" stroke-width="1.2"/>\n'
    s += text(x0 + 18 + size / 2, 50, "image (3, 32, 32)", 15, weight="bold")
    s += text(x0 + 18 + size / 2, 70, "rouge, vert, bleu ; marge p = 1 de zéros (pointillés)", 12, "#555555")
    # the window the filter covers: 3 x 3 pixels (3/32 of the side) on each of the 3 channels
    cell = size / 32
    wx, wy = 9 * cell, 12 * cell
    for i in reversed(range(3)):
        x, y = x0 + wx + i * 4, y0 + wy + i * 4
        s += f'<rect x="{x:.1f}" y="{y:.1f}" width="{3 * cell:.1f}" height="{3 * cell:.1f}" fill="{["#e8a49c", "#a9d3a3", "#a3bde3"][i]}" stroke="{RED}" stroke-width="1.5"/>\n'
    s += text(x0 + wx + 1.5 * cell, y0 + wy - 8, "fenêtre (3, 3, 3)", 12, RED)
    # the filter
    fx, fy, fs = 420, 150, 54
    s += stack(fx, fy, fs, 3, 10, 10, ["#f6d5d1", "#d7ecd5", "#d3e0f3"])
    for i in range(3):
        for a in (1, 2):
            x, y = fx + i * 10, fy + i * 10
            s += f'<line x1="{x + a * fs / 3:.1f}" y1="{y:.1f}" x2="{x + a * fs / 3:.1f}" y2="{y + fs:.1f}" stroke="#777777" stroke-width="0.6"/>\n'
            s += f'<line x1="{x:.1f}" y1="{y + a * fs / 3:.1f}" x2="{x + fs:.1f}" y2="{y + a * fs / 3:.1f}" stroke="#777777" stroke-width="0.6"/>\n'
    s += text(fx + 37, fy - 30, "filtre j : (3, 3, 3)", 14, weight="bold")
    s += text(fx + 37, fy - 12, "27 poids + un biais b" + sub("j"), 12, "#555555")
    s += arrow(x0 + wx + 3 * cell + 12, y0 + wy + 1.5 * cell + 4, fx - 8, fy + 30, RED, dashed=True)
    s += text(fx + 37, fy + 100, "Σ (fenêtre ⊙ filtre) + b" + sub("j"), 13, RED)
    s += text(fx + 37, fy + 118, "= un nombre", 13, RED)
    # output: c_out maps, one per filter
    ox, oy, osz, n = 650, 105, 150, 5
    s += stack(ox, oy, osz, n, 14, 14, ["#eeeeee", "#e4e4e4"])
    jx, jy = ox, oy
    s += f'<rect x="{ox}" y="{oy}" width="{osz}" height="{osz}" fill="none" stroke="{RED}" stroke-width="2"/>\n'
    s += text(ox + 6, oy + 18, "carte j", 12, RED, "start")
    ocell = osz / 32
    s += f'<rect x="{jx + 10 * ocell:.1f}" y="{jy + 13 * ocell:.1f}" width="{ocell:.1f}" height="{ocell:.1f}" fill="{RED}" stroke="{RED}"/>\n'
    s += arrow(fx + 84, fy + 40, jx + 10 * ocell - 3, jy + 13 * ocell + ocell / 2, RED)
    s += text(ox + 100, 50, "sortie (c" + sub("out") + ", 32, 32)", 15, weight="bold")
    s += text(ox + 100, 70, "une carte 32×32 par filtre ; le nombre va dans la carte j", 12, "#555555")
    s += text(ox + 110, oy + osz + n * 14 + 20, "32 = ⌊(32 + 2·1 − 3) / 1⌋ + 1", 13)
    # legend
    s += text(20, H - 34, "nn.Conv2d(3, c_out, 3, padding=1) : chaque filtre voit les trois canaux d'une fenêtre 3×3 "
              "et glisse sur toutes les positions (pas s = 1) ;", 13, BLACK, "start")
    s += text(20, H - 12, "les mêmes 27 poids servent partout (partage des poids) : c_out × (3×3×3 + 1) paramètres, "
              "quelle que soit la taille de l'image.", 13, BLACK, "start")
    open(out, "w").write(s + "</svg>\n")


convolution_figure("convolution.svg")
