namespace Puzzle.Engine.Pipeline.Spec;

/// <summary>What the two training sections that save resumable checkpoints (<c>gkd</c> and <c>parent.pretrain</c>) say of
/// their <c>checkpoint_every</c> and <c>checkpoint_minutes</c>: one text for both.</summary>
internal static class CheckpointFields
{
    public const string Every = "Save a resumable checkpoint every this many steps (default: by time, checkpoint_minutes; give at most one of the two).";

    public const string Minutes = "Where checkpoint_every is not set, save a resumable checkpoint at the first step that ends this many minutes after " +
                                  "training started or resumed, or after the last checkpoint: a kill loses time, and a checkpoint takes up to 16 bytes per " +
                                  "trained parameter (16 GB for a 1B-parameter model), so fewer of them at scale. One that does not fit in the free space " +
                                  "of the resume folder's drive is skipped, and the job's log says so; training goes on.";

    public const string NotInKey = "how often resumable state is saved changes no weight";
}
