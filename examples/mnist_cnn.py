"""MNIST with our best CNN, the Keras way: model.fit with callbacks.

Run: python examples/mnist_cnn.py   (about 10 epochs; see README for time and accuracy)
"""
import ournn
from ournn.data import MNIST, ArrayDataset, DataLoader
from ournn.data.transforms import RandomShift
from ournn.train import EarlyStopping, LRSchedulerCallback, ModelCheckpoint


def main(epochs=10, limit=None, dataset=MNIST, out="runs/example-cnn"):
    ournn.manual_seed(0)
    x, y = dataset(train=True).arrays()
    tx, ty = dataset(train=False).arrays()
    if limit:
        x, y, tx, ty = x[:limit], y[:limit], tx[:limit], ty[:limit]
    train = DataLoader(ArrayDataset(x, y), batch_size=128, shuffle=True,
                       transform=RandomShift(2))           # small random translations
    model = ournn.models.get_model("cnn")
    model.summary((1, 28, 28))
    opt = ournn.optim.Adam(model.parameters(), lr=3e-3)
    schedule = ournn.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, epochs=epochs,
                                                   steps_per_epoch=len(train))
    history = model.fit(train, epochs=epochs, optimizer=opt, validation_data=(tx, ty),
                        callbacks=[LRSchedulerCallback(schedule, interval="step"),
                                   ModelCheckpoint(out), EarlyStopping(patience=4)])
    print(f"test accuracy {100 * history.history['val_accuracy'][-1]:.2f}%  "
          f"(checkpoints in {out}; try: ournn predict --ckpt {out}/best.ckpt your_digit.png)")
    return history


if __name__ == "__main__":
    main()
