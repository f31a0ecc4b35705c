"""Sequential MNIST: ``lstm``, an LSTM that reads each 28x28 image row by row (28 steps of 28
pixels) and classifies it from its last hidden state.

It takes the same (N, 1, 28, 28) images as the other zoo models, so ``ournn train --model lstm
--dataset mnist`` trains it with the image recipe.
"""
from ..nn import LSTM, Dropout, Linear, Module


class RowLSTM(Module):
    """(N, 1, H, W) images -> LSTM(W, hidden_size, num_layers, batch_first) over the H rows ->
    Dropout -> Linear(hidden_size, num_classes) of the last layer's final hidden state."""

    def __init__(self, input_size=28, hidden_size=128, num_layers=1, num_classes=10,
                 dropout=0.0):
        super().__init__()
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        self.lstm = LSTM(input_size, hidden_size, num_layers=num_layers, batch_first=True,
                         dropout=dropout if num_layers > 1 else 0.0)
        self.drop = Dropout(dropout)
        self.fc = Linear(hidden_size, num_classes)

    def forward(self, x):
        x = x.reshape(x.shape[0], -1, self.input_size)      # (N, rows, pixels per row)
        _, (h, _) = self.lstm(x)
        return self.fc(self.drop(h[-1]))


def lstm(input_size=28, hidden_size=128, num_layers=1, num_classes=10, dropout=0.0):
    """The sequential-MNIST LSTM (see :class:`RowLSTM`): 82,186 parameters by default."""
    return RowLSTM(input_size, hidden_size, num_layers, num_classes, dropout)
