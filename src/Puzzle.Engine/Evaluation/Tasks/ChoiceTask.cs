namespace Puzzle.Engine.Evaluation.Tasks;

/// <summary>One multiple-choice question: the context, the candidate continuations, and the index of the right one.</summary>
public sealed record ChoiceExample(string Context, IReadOnlyList<string> Choices, int Gold);

/// <summary>A multiple-choice task: its name (the file's name without extension) and its examples.</summary>
/// <param name="Source">the file it was read from, or where a generated task was written</param>
public sealed record ChoiceTask(string Name, string Source, IReadOnlyList<ChoiceExample> Examples);

/// <summary>
/// A model's result on one task, as lm-evaluation-harness reports multiple-choice tasks: <c>acc</c> picks the choice
/// with the highest summed log-likelihood, <c>acc_norm</c> the highest summed log-likelihood per character of the
/// choice's text.
/// </summary>
public sealed record TaskScore(string Name, int Examples, int Choices, double Accuracy, double AccuracyNorm)
{
    /// <summary>The accuracy of always picking at random among the choices (the floor a model should beat).</summary>
    public double Chance => Choices == 0 ? 0 : 1.0 / Choices;
}
