"""Iris classifier: move the sliders, get a species and its probabilities.

scikit-learn ships the iris data, and the model trains in well under a second at start-up,
so the image needs no model file and no download.
"""

import pandas as pd
import streamlit as st
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import train_test_split


@st.cache_resource
def train():
    iris = load_iris(as_frame=True)
    x_train, x_test, y_train, y_test = train_test_split(
        iris.data, iris.target, test_size=0.25, random_state=0, stratify=iris.target
    )
    model = RandomForestClassifier(n_estimators=100, random_state=0).fit(x_train, y_train)
    return iris, model, model.score(x_test, y_test)


iris, model, accuracy = train()

st.title("Iris species classifier")
st.caption(f"Random forest trained at start-up on scikit-learn's iris data · held-out accuracy {accuracy:.0%}")

features = iris.data
measurements = {
    name: st.slider(
        name,
        min_value=float(features[name].min()),
        max_value=float(features[name].max()),
        value=float(features[name].mean()),
        step=0.1,
    )
    for name in features.columns
}

sample = pd.DataFrame([measurements])
probabilities = model.predict_proba(sample)[0]
species = iris.target_names[probabilities.argmax()]

st.metric("Predicted species", species)
st.bar_chart(pd.DataFrame({"probability": probabilities}, index=iris.target_names))
