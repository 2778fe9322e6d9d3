namespace Puzzle.Engine.Pipeline.Spec;

/// <summary>A list field whose items must all differ (JSON Schema's <c>uniqueItems</c>).</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class UniqueItemsAttribute : Attribute;
