"""Tips explorer: the Dash app that started ml-preview.

Plotly Express ships the "tips" data inside the package, so the app needs no download at run time.
"""

import plotly.express as px
from dash import Dash, Input, Output, dcc, html

tips = px.data.tips()
colorscales = px.colors.named_colorscales()

app = Dash(__name__, title="Tips explorer")
# Gunicorn (or any WSGI server) can serve `app:server` instead of the development server below.
server = app.server

app.layout = html.Div(
    [
        html.H1("Tips: total bill against tip"),
        html.Label("Colour scale", htmlFor="colorscale"),
        dcc.Dropdown(id="colorscale", options=colorscales, value="viridis", clearable=False),
        dcc.Graph(id="scatter"),
    ],
    style={"maxWidth": "900px", "margin": "0 auto", "fontFamily": "sans-serif"},
)


@app.callback(Output("scatter", "figure"), Input("colorscale", "value"))
def draw_scatter(scale: str):
    return px.scatter(
        tips,
        x="total_bill",
        y="tip",
        color="size",
        color_continuous_scale=scale,
        labels={"total_bill": "Total bill ($)", "tip": "Tip ($)", "size": "Party size"},
    )


if __name__ == "__main__":
    # 0.0.0.0 so the port published by Docker reaches the app; ml-preview binds it to 127.0.0.1 on the host.
    app.run(host="0.0.0.0", port=8050, debug=False)
