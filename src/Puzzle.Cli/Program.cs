using TorchSharp;
Puzzle.Engine.Runtime.TorchRuntime.EnsureLoaded();
var t = torch.ones(2, 2);
Console.WriteLine(t.sum().item<float>());
