# A pupil's answer to a quest: read names, keep scores in a DataFrame.
import pandas as pd

names = input().split(",")
scores = pd.DataFrame({"name": names, "score": [len(n) for n in names]})
best = scores.loc[scores["score"].idxmax(), "name"]


def average(values):
    return sum(values) / len(values)


print("best:", best)
print("average:", average(list(scores["score"])))
