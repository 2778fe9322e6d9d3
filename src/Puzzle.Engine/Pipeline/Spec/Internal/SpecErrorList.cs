namespace Puzzle.Engine.Pipeline.Spec.Internal;

/// <summary>Collects every error while a spec loads, so the user sees all of them at once.</summary>
internal sealed class SpecErrorList(string file)
{
    readonly List<(SourcePosition At, int Order, string Message)> errors = [];

    public bool Any => errors.Count > 0;

    public void Add(SourcePosition at, string message) => errors.Add((at, errors.Count, message));

    /// <summary>Throws a <see cref="SpecException"/> with the errors sorted by position, if there are any.</summary>
    public void ThrowIfAny()
    {
        if (!Any) return;
        var sorted = errors.OrderBy(e => e.At).ThenBy(e => e.Order)
            .Select(e => new SpecError(file, e.At.Line, e.At.Column, e.Message)).ToList();
        throw new SpecException(sorted);
    }
}
