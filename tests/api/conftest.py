"""tmp"""
X = 1
