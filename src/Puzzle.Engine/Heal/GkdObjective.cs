using Puzzle.Engine.Model;
using Puzzle.Engine.Runtime;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Puzzle.Engine.Heal;

/// <summary>The parts of the GKD loss of one batch, each a mean per token (cosine summed over layers), detached.</summary>
public sealed record GkdTerms(Tensor Total, Tensor Cosine, Tensor Kl, Tensor Lm)
{
    internal GkdTerms MoveToOuterDisposeScope() =>
        new(Total.MoveToOuterDisposeScope(), Cosine.MoveToOuterDisposeScope(), Kl.MoveToOuterDisposeScope(), Lm.MoveToOuterDisposeScope());
}

/// <summary>The parent's pass over a batch of tokens ([B, T+1]): each block's output and the last one, no gradients.</summary>
public sealed record TeacherPass(Tensor Tokens, IReadOnlyList<Tensor> Hidden, Tensor Last);

/// <summary>How a GKD step bounds its memory. Neither changes the loss; both change the order of its sums.</summary>
/// <param name="LogitSliceBytes">the float32 bytes of one slice of logits [positions, vocabulary]: the head, its
/// softmaxes and its backward pass run a slice of positions at a time, so a 128k vocabulary over 4k tokens never
/// builds its 2 GB logits (and their softmaxes and gradients) whole; default: the device's, and on a GPU or a CPU
/// with huge pages at least <see cref="LogitSlices.MinHeadRows"/> positions (<see cref="LogitSlices.HeadRows(TorchSharp.DeviceType, long)"/>)</param>
/// <param name="CheckpointBlocks">keep only each block's input from the forward pass, and run each block again in the
/// backward pass, one block's activations at a time: about one more forward pass of compute for the memory of all
/// blocks' activations but one (at 8B, 8 × 512 tokens, tens of GB)</param>
public sealed record GkdMemory(long? LogitSliceBytes = null, bool CheckpointBlocks = false);

/// <summary>
/// Global knowledge distillation's loss (paper §3.5): Σ_layers (1 − cos(h_child, h_parent)) + KL(parent ‖ child),
/// optionally plus the LM loss on the text, each with its weight. The parent runs without gradients.
/// <see cref="Step(Tensor)"/> computes it and accumulates its gradients into the child's parameters itself: the head and the
/// losses run a slice of positions at a time (each slice's backward pass into a detached copy of the final hidden
/// states, whose gradient then goes back through the blocks), and with <see cref="GkdMemory.CheckpointBlocks"/> the
/// blocks are run again one at a time from their saved inputs. Weights that do not require gradients take none: with
/// the embeddings and the head frozen (Heal's <c>gkd.train_embeddings: false</c>) the head's weight gradient is not
/// computed at all, and the blocks' gradients are the same.
/// </summary>
public sealed class GkdObjective(CausalLM parent, CausalLM child, double cosine, double kl, double lm, GkdMemory? memory = null)
{
    readonly GkdMemory _memory = memory ?? new GkdMemory();

    /// <summary>The parent's pass over a batch: every block's output, without gradients. It depends on the parent and
    /// the batch only, so the students of one parent that train on the same batches share it (<see cref="Step(TeacherPass)"/>).</summary>
    /// <param name="tokens">[B, T+1]: inputs and shifted targets</param>
    public static TeacherPass Teach(CausalLM parent, Tensor tokens)
    {
        using var _ = no_grad();
        var hidden = new List<Tensor>();
        var last = parent.RunBlocks(parent.Embed(tokens[.., ..^1]), 0, parent.Config.NumLayers, outputs: hidden);
        return new TeacherPass(tokens, hidden, last);
    }

    /// <summary>The loss of one batch, its gradients accumulated into the child's parameters' <c>grad</c>.</summary>
    /// <param name="tokens">[B, T+1]: inputs and shifted targets</param>
    public GkdTerms Step(Tensor tokens)
    {
        using var scope = NewDisposeScope();
        return Step(Teach(parent, tokens)).MoveToOuterDisposeScope();
    }

    /// <summary>The loss of the batch the parent's <paramref name="teacher"/> pass ran over (made by <see cref="Teach"/>,
    /// outside this call: it outlives the step), its gradients accumulated into the child's parameters' <c>grad</c>.</summary>
    public GkdTerms Step(TeacherPass teacher)
    {
        using var scope = NewDisposeScope();
        var tokens = teacher.Tokens;
        var inputs = tokens[.., ..^1];
        var targets = tokens[.., 1..].reshape(-1);
        var layers = child.Config.NumLayers;
        var (parentHidden, parentLast) = (teacher.Hidden, teacher.Last);

        // the child's forward pass: with its graph, or (checkpointing) without, keeping each block's input
        var (cos, sin) = child.RotaryAt(0, inputs.shape[1], child.Device, child.DType);
        var blockInputs = new List<Tensor>();
        var childHidden = new List<Tensor>();
        Tensor childLast;
        if (_memory.CheckpointBlocks)
        {
            using var _ = no_grad();
            var x = child.Embed(inputs);
            for (var l = 0; l < layers; l++)
            {
                blockInputs.Add(x);
                x = child.RunBlock(l, x, cos, sin);
            }
            childLast = x;
        }
        else childLast = child.RunBlocks(child.Embed(inputs), 0, layers, outputs: childHidden);

        // the head and the KL and LM terms, a slice of positions at a time, back-propagated into a detached copy of
        // the final hidden states (and into the final norm's and the head's weights)
        var d = childLast.shape[^1];
        var last = childLast.detach().reshape(-1, d).requires_grad_(true);
        var parentRows = parentLast.reshape(-1, d);
        var positions = last.shape[0];
        var vocab = child.Config.VocabSize;
        var rows = LogitSlices.HeadRows(childLast.device_type, vocab, _memory.LogitSliceBytes);
        var klSum = zeros(1, dtype: float32, device: childLast.device).squeeze();
        var lmSum = zeros(1, dtype: float32, device: childLast.device).squeeze();
        // the loss's gradient with respect to a slice's logits, klWeight·(q − p) + lmWeight·(q − onehot(target)) for
        // the child's softmax q and the parent's p, written out: autograd through the head would write the whole
        // head's weight gradient ([vocabulary, hidden], 1 GB in float32 at the 1B width) afresh for every slice and
        // then add it to the last; here each slice adds its part into one float32 sum in place (HeadWeightSum)
        using var qWeight = ((kl + lm) / positions).ToScalar(); // held across the calls: see Runtime/Scalars
        using var pWeight = (-kl / positions).ToScalar();
        using var targetWeight = (-lm / positions).ToScalar();
        var targetGrad = lm == 0 ? null : full([Math.Min(rows, positions), 1], targetWeight, dtype: float32, device: childLast.device);
        var headSum = new HeadWeightSum(HeadWeight(child));
        // the final norm over every position at once (a [positions, hidden] tensor), back-propagated once at the end
        var normed = child.model.norm.forward(last);
        var h = normed.detach();
        var gradNormed = empty_like(h);
        for (long start = 0; start < positions; start += rows)
        {
            using var slice = NewDisposeScope();
            using var _ = no_grad();
            var n = Math.Min(rows, positions - start);
            var hSlice = h.narrow(0, start, n);
            var logQ = F.log_softmax(F.linear(hSlice, headSum.Weight).to(float32), 1);
            var logP = F.log_softmax(parent.Head(parentRows.narrow(0, start, n)).to(float32), 1);
            var p = logP.exp();
            var target = targets.narrow(0, start, n);
            klSum.add_(StableReduction.Sum((p * (logP - logQ)).sum(1)), Scalars.One);
            lmSum.add_(F.nll_loss(logQ, target, reduction: nn.Reduction.Sum), Scalars.One);
            var gradLogits = logQ.exp_().mul_(qWeight).add_(p, pWeight);
            if (targetGrad is not null) gradLogits.scatter_add_(1, target.unsqueeze(1), targetGrad.narrow(0, 0, n));
            gradNormed.narrow(0, start, n).copy_(headSum.Add(gradLogits, hSlice));
        }
        headSum.Publish();
        normed.mul(gradNormed).sum().backward();
        var grad = last.grad!.reshape(childLast.shape);

        // the blocks: the cosine terms' gradients and the head's, through the graph or one re-run block at a time
        using var cosineWeight = cosine.ToScalar();
        Tensor cosTerm;
        if (_memory.CheckpointBlocks)
        {
            var gaps = new Tensor[layers];
            for (var l = layers - 1; l >= 0; l--)
            {
                using var block = NewDisposeScope();
                // a leaf of its own: a block of two no-ops returns its input, so two layers can share one tensor
                var x = blockInputs[l].detach().requires_grad_(true);
                var y = child.model.layers[l].Forward(x, cos, sin, null, l);
                var gap = CosineGap(y, parentHidden[l]);
                gap.mul(cosineWeight).add(y.mul(grad).sum(), Scalars.One).backward();
                gaps[l] = gap.detach().MoveToOuterDisposeScope();
                grad = x.grad!.detach().MoveToOuterDisposeScope();
                x.Dispose(); // not needed again: each block's input goes as soon as its backward pass is done
                if (l == 0 || !ReferenceEquals(blockInputs[l], blockInputs[l - 1])) blockInputs[l].Dispose();
            }
            if (child.model.EmbeddingWeight.requires_grad) child.Embed(inputs).mul(grad).sum().backward();
            cosTerm = Sum(gaps);
        }
        else
        {
            var gapSum = Sum([.. Enumerable.Range(0, layers).Select(l => CosineGap(childHidden[l], parentHidden[l]))]);
            gapSum.mul(cosineWeight).add(childLast.mul(grad).sum(), Scalars.One).backward();
            cosTerm = gapSum.detach();
        }

        using var count = ((double)positions).ToScalar();
        var klTerm = klSum.div(count);
        var lmTerm = lmSum.div(count);
        // the weights as held Scalars, not tensors made on the host: a host-to-device copy waits for the device, so
        // three per step would drain its queue before every optimizer step
        using var klTotal = kl.ToScalar();
        using var lmTotal = lm.ToScalar();
        var total = cosTerm.mul(cosineWeight).add(klTerm.mul(klTotal), Scalars.One).add(lmTerm.mul(lmTotal), Scalars.One);
        return new GkdTerms(total, cosTerm, klTerm, lmTerm).MoveToOuterDisposeScope();
    }

    /// <summary>The LM head's weights [vocabulary, hidden], or (tied) the embeddings'.</summary>
    static TorchSharp.Modules.Parameter HeadWeight(CausalLM model) => model.lm_head?.weight ?? model.model.EmbeddingWeight;

    /// <summary>
    /// The head's weight gradient of a step, Σ gradLogitsᵀ · h over its logit slices, summed in float32 in place: on top
    /// of a gradient the weights already hold (an earlier micro-batch's), then handed to them (<see cref="Publish"/>),
    /// rounded once to their dtype where that is lower.
    /// </summary>
    sealed class HeadWeightSum
    {
        public readonly TorchSharp.Modules.Parameter Weight;
        readonly Tensor? _held;
        readonly Tensor? _sum; // null where the weights take no gradient: nothing is summed
        bool _fresh; // _sum holds nothing yet

        public HeadWeightSum(TorchSharp.Modules.Parameter weight)
        {
            Weight = weight;
            _held = weight.grad;
            _fresh = _held is null;
            _sum = !weight.requires_grad ? null
                : _held is null ? empty(weight.shape, dtype: float32, device: weight.device)
                : _held.dtype == float32 ? _held : _held.to(float32);
        }

        /// <summary>Adds a slice's part, gradLogits[n, vocabulary]ᵀ · h[n, hidden], and returns the gradient with respect
        /// to h, gradLogits · W.</summary>
        public Tensor Add(Tensor gradLogits, Tensor h)
        {
            var g = gradLogits.to(Weight.dtype); // the products in the weights' dtype: the tensor cores' rate on a GPU
            if (_sum is null) return g.mm(Weight);
            // the first product writes the sum (β = 0 reads nothing), later ones add to it
            if (Weight.dtype == float32) _sum.addmm_(g.t(), h, beta: _fresh ? 0 : 1, alpha: 1);
            else if (_fresh) _sum.copy_(g.t().mm(h));
            else _sum.add_(g.t().mm(h), Scalars.One);
            _fresh = false;
            return g.mm(Weight);
        }

        public void Publish()
        {
            if (_sum is null || _fresh) return; // frozen, or no slices (a batch of no positions)
            if (!ReferenceEquals(_sum, _held)) Weight.grad = Weight.dtype == float32 ? _sum : _sum.to(Weight.dtype);
        }
    }

    /// <summary>mean over positions of 1 − cos(child, parent), in float32.</summary>
    static Tensor CosineGap(Tensor child, Tensor parent)
    {
        var similarity = F.cosine_similarity(child.to(float32), parent.to(float32), dim: -1);
        return StableReduction.Mean(ones_like(similarity) - similarity);
    }

    /// <summary>Σ in layer order (tensor-only additions with a held alpha: + makes a temporary Scalar of 1).</summary>
    static Tensor Sum(IReadOnlyList<Tensor> terms)
    {
        var sum = terms[0];
        for (var i = 1; i < terms.Count; i++) sum = sum.add(terms[i], Scalars.One);
        return sum;
    }
}
