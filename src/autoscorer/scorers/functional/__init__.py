"""scorers/functional"""
