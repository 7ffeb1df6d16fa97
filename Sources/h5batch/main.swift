print("h5batch")
