"""apiserver/patch"""
