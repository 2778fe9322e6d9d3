namespace Puzzle.Engine.Pipeline.Spec.Internal;

/// <summary>Collects every error while a spec loads, so the user sees all of them at once.</summary>
internal sealed class SpecErrorList(string file)
{
    readonly List<(SourcePosition At, int Order, bool FollowOn, string Message)> errors = [];

    public bool Any => errors.Count > 0;

    public void Add(SourcePosition at, string message) => errors.Add((at, errors.Count, false, message));

    /// <summary>
    /// An error that may follow from another (a rule about a default the file never wrote, when a misspelt key is the
    /// likelier cause): listed after every direct error, so the user reads the cause first.
    /// </summary>
    public void AddFollowOn(SourcePosition at, string message) => errors.Add((at, errors.Count, true, message));

    /// <summary>Throws a <see cref="SpecException"/> with the errors sorted by position (follow-ons last), if there are any.</summary>
    public void ThrowIfAny()
    {
        if (!Any) return;
        var sorted = errors.OrderBy(e => e.FollowOn).ThenBy(e => e.At).ThenBy(e => e.Order)
            .Select(e => new SpecError(file, e.At.Line, e.At.Column, e.Message)).ToList();
        throw new SpecException(sorted);
    }
}
