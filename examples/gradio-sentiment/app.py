"""Sentiment of a sentence, from a model small enough to train at start-up.

The training sentences live in this file, so the app downloads nothing from a model hub:
it starts offline and the same text always gets the same score.
"""

import gradio as gr
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

POSITIVE = [
    "I love this, it works beautifully",
    "Great results and a clear explanation",
    "The model is fast and accurate",
    "What a delightful experience, thank you",
    "Excellent work, the preview looks fantastic",
    "This is really helpful and easy to use",
    "Amazing accuracy on the new data",
    "I am happy with how the chart turned out",
    "Nice, clean and simple interface",
    "The latest change is a clear improvement",
    "Superb performance, well done",
    "Good job, everything runs smoothly",
]
NEGATIVE = [
    "I hate this, it keeps crashing",
    "Terrible results and a confusing layout",
    "The model is slow and inaccurate",
    "What an awful experience, nothing works",
    "Poor work, the preview looks broken",
    "This is useless and hard to use",
    "Bad accuracy on the new data",
    "I am unhappy with how the chart turned out",
    "Ugly, cluttered and complicated interface",
    "The latest change made everything worse",
    "Horrible performance, very disappointing",
    "It fails every time and the errors make no sense",
]

classifier = make_pipeline(
    TfidfVectorizer(ngram_range=(1, 2), lowercase=True),
    LogisticRegression(C=10.0, max_iter=1000),
).fit(POSITIVE + NEGATIVE, ["positive"] * len(POSITIVE) + ["negative"] * len(NEGATIVE))


def score(text: str) -> dict[str, float] | None:
    if not text.strip():
        return None  # an empty label instead of a guess about nothing
    probabilities = classifier.predict_proba([text])[0]
    return {label: float(p) for label, p in zip(classifier.classes_, probabilities)}


demo = gr.Interface(
    fn=score,
    inputs=gr.Textbox(label="Sentence", placeholder="The new model looks great"),
    outputs=gr.Label(label="Sentiment"),
    title="Sentiment scorer",
    description="Logistic regression on TF-IDF features, trained at start-up on a few dozen inline sentences.",
    examples=["The preview works beautifully", "The chart is broken and confusing"],
    flagging_mode="never",
)

if __name__ == "__main__":
    # Host and port come from GRADIO_SERVER_NAME / GRADIO_SERVER_PORT (set in the Dockerfile).
    demo.launch()
