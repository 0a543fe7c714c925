"""Tips explorer built from Debian packages only: Flask serves the page, Plotly draws the scatter, pandas
reads the "tips" data shipped next to this file, and a scikit-learn model trained at start-up predicts the
tip for a bill you type in. Nothing is downloaded at run time.
"""

import gzip
import html
from pathlib import Path

import pandas as pd
import plotly.express as px
from flask import Flask, Response, request
from plotly.offline import get_plotlyjs
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LinearRegression
from sklearn.metrics import mean_absolute_error
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

tips = pd.read_csv(Path(__file__).with_name("tips.csv"))
FEATURES = ["total_bill", "size", "time", "day", "smoker"]
CATEGORIES = ["time", "day", "smoker"]


def train():
    """A linear model of the tip; its error is measured on a quarter of the rows it never saw."""
    model = make_pipeline(
        make_column_transformer((OneHotEncoder(handle_unknown="ignore"), CATEGORIES), remainder="passthrough"),
        LinearRegression(),
    )
    train_rows, test_rows = train_test_split(tips, test_size=0.25, random_state=0)
    model.fit(train_rows[FEATURES], train_rows["tip"])
    error = mean_absolute_error(test_rows["tip"], model.predict(test_rows[FEATURES]))
    return model.fit(tips[FEATURES], tips["tip"]), error


model, held_out_error = train()
colorscales = px.colors.named_colorscales()
# Debian's python3-plotly ships plotly.js unminified (~8.6 MB): serve it once, gzipped, and let browsers cache it.
plotly_js = gzip.compress(get_plotlyjs().encode())

app = Flask(__name__)


def choice(name, options, default):
    value = request.args.get(name, default)
    return value if value in options else default


def number(name, default, low, high):
    try:
        return min(max(float(request.args.get(name, default)), low), high)
    except ValueError:
        return default


def select(name, options, value):
    items = "".join(
        f'<option{" selected" if o == value else ""}>{html.escape(str(o))}</option>' for o in options
    )
    return f'<label>{name} <select name="{name}">{items}</select></label>'


@app.get("/")
def page():
    scale = choice("colorscale", colorscales, "viridis")
    guest = {
        "total_bill": number("total_bill", 20.0, 1.0, 500.0),
        "size": int(number("size", 2, 1, 20)),
        "time": choice("time", ["Lunch", "Dinner"], "Dinner"),
        "day": choice("day", ["Thur", "Fri", "Sat", "Sun"], "Sat"),
        "smoker": choice("smoker", ["No", "Yes"], "No"),
    }
    predicted = float(model.predict(pd.DataFrame([guest]))[0])
    figure = px.scatter(
        tips,
        x="total_bill",
        y="tip",
        color="size",
        color_continuous_scale=scale,
        labels={"total_bill": "Total bill ($)", "tip": "Tip ($)", "size": "Party size"},
    )
    figure.add_scatter(
        x=[guest["total_bill"]], y=[predicted], mode="markers", name="prediction", marker_symbol="x", marker_size=14
    )
    chart = figure.to_html(full_html=False, include_plotlyjs="/plotly.js")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Tips explorer (Debian)</title></head>
<body style="max-width: 900px; margin: 0 auto; font-family: sans-serif">
<h1>Tips: total bill against tip</h1>
<form method="get">
  <label>Total bill ($) <input name="total_bill" type="number" step="0.01" value="{guest["total_bill"]:.2f}"></label>
  <label>Party size <input name="size" type="number" min="1" max="20" value="{guest["size"]}"></label>
  {select("time", ["Lunch", "Dinner"], guest["time"])}
  {select("day", ["Thur", "Fri", "Sat", "Sun"], guest["day"])}
  {select("smoker", ["No", "Yes"], guest["smoker"])}
  {select("colorscale", colorscales, scale)}
  <button>Predict</button>
</form>
<p>Predicted tip: <strong>${predicted:.2f}</strong>
 (linear model trained at start-up on {len(tips)} bills; mean error ${held_out_error:.2f} on held-out bills)</p>
{chart}
</body></html>"""


@app.get("/plotly.js")
def plotly():
    if "gzip" not in request.headers.get("Accept-Encoding", ""):
        return Response(gzip.decompress(plotly_js), mimetype="text/javascript")
    response = Response(plotly_js, mimetype="text/javascript", headers={"Content-Encoding": "gzip"})
    response.cache_control.max_age = 86400
    return response


if __name__ == "__main__":
    # 0.0.0.0 so the port published by Docker reaches the app; ml-preview binds it to 127.0.0.1 on the host.
    app.run(host="0.0.0.0", port=5000)
