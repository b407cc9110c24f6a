"""The state diagram drawn as SVG from the machine's own definition (workflow.states): the main
path on one line, the exits (rejected, withdrawn, breached) on the line below, one arrow per
(source, trigger, destination)."""

from __future__ import annotations

from html import escape

from workflow.states import STATE_LABELS, TRANSITIONS, TRIGGER_LABELS, State, Trigger

MAIN = (State.LISTED, State.APPLIED, State.INTERVIEWED, State.SELECTED, State.CONTRACTED,
        State.IN_TRAINING, State.SERVING, State.COMPLETED)  # fmt: skip
EXITS = (State.REJECTED, State.WITHDRAWN, State.BREACHED)
BOX_W, BOX_H, GAP = 118, 44, 64
# The words over the main line's arrows must fit in the gap between two boxes; the full label
# is the arrow's tooltip.
ARROW_WORDS = {
    Trigger.SUBMIT: "candidature",
    Trigger.INTERVIEW: "entretien",
    Trigger.SELECT: "sélection",
    Trigger.SIGN: "signature",
    Trigger.START_TRAINING: "formation",
    Trigger.START_SERVICE: "prise de poste",
    Trigger.COMPLETE: "terme",
}


def _positions() -> dict[State, tuple[int, int]]:
    pos = {s: (10 + i * (BOX_W + GAP), 30) for i, s in enumerate(MAIN)}
    for s, anchor in zip(
        EXITS, (State.INTERVIEWED, State.SELECTED, State.IN_TRAINING), strict=True
    ):
        pos[s] = (pos[anchor][0], 260)
    return pos


def state_diagram_svg() -> str:
    pos = _positions()
    assert set(pos) == set(State), "every state must have a place in the drawing"
    width = 20 + len(MAIN) * (BOX_W + GAP)
    parts = [
        f'<svg role="img" aria-labelledby="diagram-title" viewBox="0 0 {width} 330" '
        f'width="{width}" height="330" xmlns="http://www.w3.org/2000/svg">',
        '<title id="diagram-title">'
        "Schéma des états d'un dossier et des actions qui les relient</title>",
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" '
        'fill="#161616"/></marker></defs>',
    ]
    for t in TRANSITIONS:
        for source in t.sources:
            x1, y1 = pos[source]
            x2, y2 = pos[t.dest]
            sx: float
            sy: float
            ex: float
            ey: float
            if y1 == y2:  # along the main line
                sx, sy, ex, ey = x1 + BOX_W, y1 + BOX_H / 2, x2, y2 + BOX_H / 2
            else:  # down to an exit, fanned out so that the arrows stay apart
                offset = float((MAIN.index(source) - 3) * 6 if source in MAIN else 0)
                sx, sy, ex, ey = x1 + BOX_W / 2, y1 + BOX_H, x2 + BOX_W / 2 + offset, y2
            parts.append(
                f'<line x1="{sx:.0f}" y1="{sy:.0f}" x2="{ex:.0f}" y2="{ey:.0f}" stroke="#161616" '
                f'stroke-width="1.2" marker-end="url(#arrow)">'
                f"<title>{escape(TRIGGER_LABELS[t.trigger])} : "
                f"{escape(STATE_LABELS[source])} → {escape(STATE_LABELS[t.dest])}</title></line>"
            )
            if y1 == y2:
                parts.append(
                    f'<text x="{(sx + ex) / 2:.0f}" y="{sy - 8:.0f}" font-size="10" '
                    f'text-anchor="middle">'
                    f"{escape(ARROW_WORDS.get(t.trigger, TRIGGER_LABELS[t.trigger]))}</text>"
                )
    for state, (x, y) in pos.items():
        terminal = state in EXITS or state is State.COMPLETED
        parts.append(
            f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="6" '
            f'fill="{"#e3e3fd" if not terminal else "#f6f6f6"}" stroke="#000091"/>'
            f'<text x="{x + BOX_W / 2:.0f}" y="{y + BOX_H / 2 + 4:.0f}" font-size="11" '
            f'text-anchor="middle">{escape(STATE_LABELS[state].split(" (")[0])}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
