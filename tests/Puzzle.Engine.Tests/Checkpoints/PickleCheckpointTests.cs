using System.Text.Json.Nodes;
using Puzzle.Engine.Checkpoints;
using Puzzle.Engine.Model;
using Puzzle.Engine.Parents;
using TorchSharp;
using static Puzzle.Engine.Tests.Checkpoints.CheckpointTestSupport;

namespace Puzzle.Engine.Tests.Checkpoints;

/// <summary>
/// Parents saved by torch.save (pytorch_model.bin, or its shards and index), as transformers saved Llama-2-era
/// fine-tunes: the folders of Fixtures/hf-llama-tiny-bin were written by torch itself from hf-llama-tiny (the first
/// 128 rows of its embeddings and head, every other tensor whole), so each tensor is checked against the safetensors
/// fixture's, bit for bit in the dtype it is stored in.
/// </summary>
public sealed class PickleCheckpointTests : IDisposable
{
    const int Vocab = 128;
    readonly TempDir _dir = new();

    public PickleCheckpointTests() => Fixtures.Torch();

    public void Dispose() => _dir.Dispose();

    static string FixtureOf(string name) => Path.Combine(TorchBinFixtures.Folder, name);

    /// <summary>The safetensors fixture's tensor that a .bin fixture's <paramref name="name"/> was made from, in <paramref name="dtype"/>.</summary>
    static torch.Tensor Expected(CheckpointTensors fixture, string name, bool tied, torch.ScalarType dtype)
    {
        using var scope = torch.NewDisposeScope();
        var source = tied && name == "lm_head.weight" ? "model.embed_tokens.weight" : name;
        var t = fixture.Read(source);
        if (source is "model.embed_tokens.weight" or "lm_head.weight") t = t[..Vocab];
        return t.to(dtype).contiguous().MoveToOuterDisposeScope();
    }

    [Theory]
    [InlineData("f16", "float16", 1)]
    [InlineData("bf16-sharded", "bfloat16", 2)]
    [InlineData("tied-views", "float32", 1)]
    public void Every_tensor_equals_the_safetensors_fixtures_bit_for_bit_in_its_stored_dtype(string folder, string dtypeName, int files)
    {
        var dtype = dtypeName switch { "float16" => torch.ScalarType.Float16, "bfloat16" => torch.ScalarType.BFloat16, _ => torch.ScalarType.Float32 };
        var (config, tensors) = Checkpoint.Open(FixtureOf(folder));
        using var fixture = CheckpointTensors.Open(Fixtures.HfLlamaTiny);
        using (tensors)
        {
            Assert.Equal(files, tensors.Files.Count);
            Assert.All(tensors.Files, f => Assert.IsType<PickleTensorsFile>(f));
            Assert.Equal(0, tensors.Files.Sum(f => f.DataBytesRead)); // opening read the zip directory and data.pkl only
            var needed = CheckpointValidator.ExpectedShapes(config);
            Assert.Subset(tensors.Names.ToHashSet(), needed.Keys.ToHashSet());
            foreach (var name in tensors.Names.Where(n => !n.EndsWith(".rotary_emb.inv_freq", StringComparison.Ordinal)))
            {
                using var expected = Expected(fixture, name, config.TieWordEmbeddings, dtype);
                using var stored = tensors.ReadStored(name);
                Assert.Equal(dtype, stored.dtype);
                Assert.Equal(TensorDTypes.Of(dtype), tensors.Info(name).DType);
                Assert.Equal(expected.shape, stored.shape);
                Assert.True(stored.is_contiguous(), name);
                Assert.True(expected.bytes.SequenceEqual(stored.bytes), $"tensor {name} differs");
                // into a parameter of the stored dtype (read in place) and into a float32 one (through the staging buffer)
                using var same = torch.empty(stored.shape, dtype);
                using var wide = torch.empty(stored.shape, torch.ScalarType.Float32);
                tensors.ReadInto(name, same);
                tensors.ReadInto(name, wide);
                Assert.True(expected.bytes.SequenceEqual(same.bytes), $"tensor {name} read in place differs");
                using var widened = expected.to(torch.ScalarType.Float32);
                AssertBitEqual(widened, wide, name);
            }
        }
    }

    [Fact]
    public void Tied_and_fused_weights_are_views_of_shared_storages_and_each_read_takes_only_its_span()
    {
        var (_, tensors) = Checkpoint.Open(FixtureOf("tied-views"));
        using (tensors)
        {
            const string layer = "model.layers.0.";
            using (var v = tensors.ReadStored(layer + "self_attn.v_proj.weight")) // rows 96..127 of the fused q/k/v storage
                Assert.Equal(32 * 64 * 4, tensors.Files[0].DataBytesRead);
            using (var down = tensors.ReadStored(layer + "mlp.down_proj.weight")) // [64, 172] of a [64, 177] storage: 63 rows and one more row's 172
                Assert.Equal(32 * 64 * 4 + (63 * 177 + 172) * 4, tensors.Files[0].DataBytesRead);
            using var embedding = tensors.ReadStored("model.embed_tokens.weight");
            using var head = tensors.ReadStored("lm_head.weight");
            Assert.True(embedding.bytes.SequenceEqual(head.bytes));
        }
    }

    [Theory]
    [InlineData("f16", "float16")]
    [InlineData("bf16-sharded", "bfloat16")]
    [InlineData("tied-views", "float32")]
    public void A_model_loaded_from_a_bin_folder_gives_the_logits_of_the_fixtures_weights_saved_as_safetensors(string folder, string dtypeName)
    {
        var dtype = dtypeName switch { "float16" => torch.ScalarType.Float16, "bfloat16" => torch.ScalarType.BFloat16, _ => torch.ScalarType.Float32 };
        var config = HfConfig.Read(FixtureOf(folder));
        // the same model from the safetensors fixture, independently of the .bin reader: its tensors cut and rounded as make.py did
        Dictionary<string, torch.Tensor> weights;
        using (var fixture = CheckpointTensors.Open(Fixtures.HfLlamaTiny))
            weights = CheckpointValidator.ExpectedShapes(config).Keys.ToDictionary(n => n, n => Expected(fixture, n, config.TieWordEmbeddings, dtype));
        try { Checkpoint.Save(_dir["safetensors"], config, weights, dtype: TensorDTypes.Of(dtype)); }
        finally { DisposeAll(weights.Values); }

        using var fromBin = ParentModel.Load(FixtureOf(folder));
        using var fromSafetensors = ParentModel.Load(_dir["safetensors"]);
        using var _ = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var ids = torch.randint(0, Vocab, [2, 24], dtype: torch.ScalarType.Int64, generator: new torch.Generator(5));
        var expected = fromSafetensors.Forward(ids);
        var actual = fromBin.Forward(ids);
        Assert.Equal(Vocab, actual.shape[^1]);
        Assert.True(expected.equal(actual).all().item<bool>(), $"largest difference {(expected - actual).abs().max().item<float>()}");
    }

    [Fact]
    public void Safetensors_wins_over_a_bin_and_a_single_file_over_an_index_as_transformers_chooses()
    {
        var folder = _dir["all"];
        Directory.CreateDirectory(folder);
        foreach (var file in Directory.GetFiles(Fixtures.HfLlamaTiny, "model*")) File.Copy(file, Path.Combine(folder, Path.GetFileName(file)));
        foreach (var file in Directory.GetFiles(FixtureOf("bf16-sharded"), "pytorch_model*").Append(Path.Combine(FixtureOf("f16"), CheckpointTensors.PickleFileName)))
            File.Copy(file, Path.Combine(folder, Path.GetFileName(file)));
        string[] Read()
        {
            using var tensors = CheckpointTensors.Open(folder);
            return tensors.Files.Select(f => Path.GetFileName(f.Path)).Order().ToArray();
        }

        Assert.Equal(["model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors"], Read());
        foreach (var file in Directory.GetFiles(folder, "model*")) File.Delete(file);
        Assert.Equal([CheckpointTensors.PickleFileName], Read());
        File.Delete(Path.Combine(folder, CheckpointTensors.PickleFileName));
        Assert.Equal(["pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin"], Read());
    }

    [Fact]
    public void A_tensor_missing_from_a_single_bin_beside_an_index_names_both()
    {
        var folder = TorchBinFixtures.Copy("f16", _dir["m"]);
        File.Copy(Path.Combine(FixtureOf("bf16-sharded"), CheckpointTensors.PickleIndexFileName), Path.Combine(folder, CheckpointTensors.PickleIndexFileName));
        EditJson(Path.Combine(folder, "config.json"), c => c["num_hidden_layers"] = 4);
        AssertFails(() => Checkpoint.Open(folder), "tensor 'model.layers.3.input_layernorm.weight' [64] is missing",
            "pytorch_model.bin is read, as transformers reads it where both are, and the shards pytorch_model.bin.index.json lists are not");
    }

    [Fact]
    public void A_bin_shard_missing_from_its_folder_is_named()
    {
        var folder = TorchBinFixtures.Copy("bf16-sharded", _dir["m"]);
        File.Delete(Path.Combine(folder, "pytorch_model-00002-of-00002.bin"));
        AssertFails(() => Checkpoint.Open(folder), Path.Combine(folder, CheckpointTensors.PickleIndexFileName), "shard 'pytorch_model-00002-of-00002.bin', which is missing");
    }

    [Fact]
    public void A_tensor_the_bin_index_places_in_a_shard_without_it_is_named_with_the_index()
    {
        var folder = TorchBinFixtures.Copy("bf16-sharded", _dir["m"]);
        var index = Path.Combine(folder, CheckpointTensors.PickleIndexFileName);
        EditJson(index, j => j["weight_map"]!["model.norm.weight"] = "pytorch_model-00001-of-00002.bin");
        AssertFails(() => Checkpoint.Open(folder), Path.Combine(folder, "pytorch_model-00001-of-00002.bin"),
            "tensor 'model.norm.weight' is listed for this shard in pytorch_model.bin.index.json but the shard does not contain it");
    }

    [Fact]
    public void A_bin_with_a_global_a_state_dict_does_not_need_is_refused_naming_the_file_and_the_global()
    {
        var folder = TorchBinFixtures.Copy("f16", _dir["m"]);
        var bin = Path.Combine(folder, CheckpointTensors.PickleFileName);
        File.Copy(FixtureOf("errors/global.bin"), bin, overwrite: true); // {"w": tensor, "x": an object whose pickle calls os.system}
        AssertFails(() => Checkpoint.Open(folder), bin, "not a state dict of tensors", "posix.system");
    }

    [Fact]
    public void A_bin_in_the_legacy_format_is_refused_naming_the_file()
    {
        var folder = TorchBinFixtures.Copy("f16", _dir["m"]);
        var bin = Path.Combine(folder, CheckpointTensors.PickleFileName);
        File.Copy(FixtureOf("errors/legacy.bin"), bin, overwrite: true);
        AssertFails(() => Checkpoint.Open(folder), bin, "PyTorch's legacy format", "save_pretrained");
    }

    [Fact]
    public void A_bin_with_an_integer_tensor_names_the_file_the_tensor_and_its_dtype()
    {
        var folder = TorchBinFixtures.Copy("f16", _dir["m"]);
        var bin = Path.Combine(folder, CheckpointTensors.PickleFileName);
        File.Copy(FixtureOf("errors/int64.bin"), bin, overwrite: true);
        AssertFails(() => Checkpoint.Open(folder), bin, "unsupported dtype int64 (LongStorage) for tensor 'model.position_ids'");
    }

    [Fact]
    public void A_bin_whose_attributes_hold_a_list_that_contains_itself_is_refused_not_followed_forever()
    {
        var folder = TorchBinFixtures.Copy("f16", _dir["m"]);
        var bin = Path.Combine(folder, CheckpointTensors.PickleFileName);
        File.Copy(FixtureOf("errors/cycle.bin"), bin, overwrite: true);
        AssertFails(() => Checkpoint.Open(folder), bin, "the state dict's attributes nest more than 32 deep");
    }

    [Theory]
    [InlineData(0.5)]
    [InlineData(0.999)]
    public void A_truncated_bin_is_named_as_truncated(double kept)
    {
        var folder = TorchBinFixtures.Copy("f16", _dir["m"]);
        var bin = Path.Combine(folder, CheckpointTensors.PickleFileName);
        using (var stream = File.Open(bin, FileMode.Open)) stream.SetLength((long)(stream.Length * kept));
        AssertFails(() => Checkpoint.Open(folder), bin, "truncated");
    }

    [Fact]
    public void A_safetensors_file_or_a_git_lfs_pointer_named_pytorch_model_bin_is_named()
    {
        var folder = TorchBinFixtures.Copy("f16", _dir["m"]);
        var bin = Path.Combine(folder, CheckpointTensors.PickleFileName);
        File.Copy(Path.Combine(Fixtures.HfLlamaTiny, "model-00003-of-00003.safetensors"), bin, overwrite: true);
        AssertFails(() => Checkpoint.Open(folder), bin, "not a zip archive");
        File.WriteAllText(bin, "version https://git-lfs.github.com/spec/v1\noid sha256:4d7a\nsize 315732\n");
        AssertFails(() => Checkpoint.Open(folder), bin, "Git LFS pointer");
    }

    [Fact]
    public void A_folder_without_weights_names_every_file_it_looks_for()
    {
        var folder = TorchBinFixtures.Copy("f16", _dir["m"]);
        File.Delete(Path.Combine(folder, CheckpointTensors.PickleFileName));
        AssertFails(() => Checkpoint.Open(folder), folder, "none of model.safetensors, model.safetensors.index.json, pytorch_model.bin or pytorch_model.bin.index.json is there");
    }

    [Fact]
    public void The_whole_fixture_as_a_torch_save_bin_reads_as_its_safetensors()
    {
        var folder = _dir["full"];
        Cli.TestParents.Tiny(folder);
        TorchBinFixtures.ToPytorchBin(folder);
        var (config, tensors) = Checkpoint.Open(folder);
        using var fixture = CheckpointTensors.Open(Fixtures.HfLlamaTiny);
        using (tensors)
        {
            Assert.Equal(fixture.Names.Order(), tensors.Names.Order());
            foreach (var name in tensors.Names)
            {
                using var a = fixture.ReadStored(name);
                using var b = tensors.ReadStored(name);
                Assert.True(a.bytes.SequenceEqual(b.bytes), name);
            }
            Assert.Equal(CheckpointValidator.ExpectedShapes(config).Values.Sum(s => s.Aggregate(4L, (x, y) => x * y)), tensors.Files[0].DataBytesRead);
        }
    }
}
