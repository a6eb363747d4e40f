"""couplet: Chinese couplets and classical poems with recurrent neural networks."""
