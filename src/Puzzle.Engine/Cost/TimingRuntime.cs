namespace Puzzle.Engine.Cost;

/// <summary>How timed steps run, and so what a cost describes.</summary>
public enum TimingRuntime
{
    /// <summary>Eager TorchSharp: every kernel launched on its own, as a .NET or PyTorch eager loop serves.</summary>
    Eager,

    /// <summary>The prefill and each decode step captured once and replayed as one CUDA graph, as serving runtimes
    /// (vLLM, TensorRT-LLM) decode: launch overhead gone, the step pays for bytes moved and FLOPs. CUDA only. Every
    /// eighth decode step and the last are captured and timed, the others interpolated (<c>CostMeter.GraphDecodeStride</c>).</summary>
    CudaGraphs,
}
