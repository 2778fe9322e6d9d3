namespace Puzzle.Engine.Search;

/// <summary>What the diversity constraint between solutions counts as shared.</summary>
public enum DiversityUnit
{
    /// <summary>Whole blocks, as in the paper: a layer counts as shared when both its attention and its FFN choice
    /// are equal; at most α·L of the L layers may be.</summary>
    Block,
    /// <summary>Subblock slots: each equal attention or FFN choice counts one (a whole block two); at most α·2L of
    /// the 2L slots may be. Stricter: a second solution cannot keep every attention choice of the first.</summary>
    Subblock,
}
