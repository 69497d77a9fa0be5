"""jobs/queues"""
