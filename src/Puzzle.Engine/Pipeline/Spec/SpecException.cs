namespace Puzzle.Engine.Pipeline.Spec;

/// <summary>
/// A spec that does not load. <see cref="Errors"/> holds every problem found, sorted by position; the message has
/// one <c>FILE:LINE:COLUMN: error: MESSAGE</c> line per error, and File, Line and Column are the first error's.
/// </summary>
public sealed class SpecException : Exception
{
    /// <param name="inner">the error that made the spec unreadable, where one did (a file that could not be read)</param>
    public SpecException(IReadOnlyList<SpecError> errors, Exception? inner = null)
        : base(string.Join('\n', Check(errors)), inner)
    {
        Errors = errors;
    }

    public IReadOnlyList<SpecError> Errors { get; }
    public string File => Errors[0].File;
    public int Line => Errors[0].Line;
    public int Column => Errors[0].Column;

    static IReadOnlyList<SpecError> Check(IReadOnlyList<SpecError> errors) =>
        errors is { Count: > 0 } ? errors : throw new ArgumentException("a spec exception needs at least one error", nameof(errors));
}
