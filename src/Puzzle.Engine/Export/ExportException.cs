namespace Puzzle.Engine.Export;

/// <summary>A child that cannot be exported as asked (format, target runtime, missing files); the message says why and what to change.</summary>
public sealed class ExportException(string message, Exception? inner = null) : Exception(message, inner);
