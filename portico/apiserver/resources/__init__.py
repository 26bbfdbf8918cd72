"""apiserver/resources"""
