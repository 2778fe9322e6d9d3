using System.Diagnostics;

namespace Puzzle.Engine.Training;

/// <summary>
/// A one-line progress bar with tokens/s, loss and ETA: redrawn in place on a terminal, a plain line every few
/// seconds when the output is a log file (a pipeline job's log, CI).
/// </summary>
public sealed class ProgressLine
{
    readonly string _label;
    readonly string _unit;
    readonly long _total;
    readonly TextWriter _out;
    readonly bool _interactive;
    readonly Stopwatch _clock = Stopwatch.StartNew();
    readonly TimeSpan _every;
    TimeSpan? _last;
    long _start;

    /// <param name="unit">what is counted: "tok" (tokens, the default), or e.g. "shape", "variant", "batch"</param>
    public ProgressLine(string label, long totalTokens, TextWriter? output = null, TimeSpan? every = null, string unit = "tok")
    {
        _label = label;
        _unit = unit;
        _total = totalTokens;
        _out = output ?? Console.Error;
        _interactive = output is null && !Console.IsErrorRedirected;
        _every = every ?? (_interactive ? TimeSpan.FromMilliseconds(250) : TimeSpan.FromSeconds(10));
    }

    public TimeSpan Elapsed => _clock.Elapsed;
    /// <summary>The count a finished run reaches.</summary>
    public long Total => _total;

    /// <summary>Counts the rate from <paramref name="tokensDone"/> on: a run resumed from a checkpoint.</summary>
    public void ResumedAt(long tokensDone)
    {
        _start = tokensDone;
        _clock.Restart();
        _out.WriteLine($"{_label}: resumed at {tokensDone:N0} of {_total:N0} tokens");
    }

    public void Report(long tokensDone, double loss, bool force = false)
    {
        Runtime.TorchRuntime.FollowRequestedThreads(); // the compute thread, between steps: where a job takes freed cores
        var now = _clock.Elapsed;
        if (!force && _last is { } last && now - last < _every) return;
        _last = now;
        var rate = (tokensDone - _start) / Math.Max(1e-9, now.TotalSeconds);
        var fraction = _total > 0 ? Math.Min(1, (double)tokensDone / _total) : 0;
        const int width = 24;
        var filled = (int)(fraction * width);
        var bar = new string('#', filled) + new string('-', width - filled);
        var line = $"{_label} [{bar}] {fraction,4:P0} {tokensDone:N0}/{_total:N0} {_unit}  {Rate(rate)} {_unit}/s" +
                   (double.IsNaN(loss) ? "" : $"  loss {loss:F4}") + $"{Eta} {(Remaining(_total, tokensDone, rate) is { } eta ? Clock(eta) : "?")}";
        if (_interactive) _out.Write("\r" + line.PadRight(Console.WindowWidth > 0 ? Math.Min(Console.WindowWidth - 1, 160) : 0));
        else _out.WriteLine(line);
    }

    const string Eta = "  ETA";

    /// <summary>The time left at <paramref name="rate"/> per second: none past the total (a run of whole steps may count
    /// more than asked for), unknown (null) before anything was counted.</summary>
    internal static TimeSpan? Remaining(long total, long done, double rate) =>
        rate > 0 ? TimeSpan.FromSeconds(Math.Max(0, total - done) / rate) : null;

    /// <summary>Whether a job's output line is a progress line (what a launcher echoes to the console).</summary>
    public static bool IsProgress(string line) => line.Contains(Eta + " ", StringComparison.Ordinal) && line.Contains("] ", StringComparison.Ordinal);

    /// <summary>A duration as h:mm:ss: hours do not wrap (a 30-hour ETA reads 30:00:00).</summary>
    public static string Clock(TimeSpan t) => $"{(int)t.TotalHours}:{t.Minutes:D2}:{t.Seconds:D2}";

    static string Rate(double rate) => rate >= 10 ? rate.ToString("N0") : rate.ToString("N2");

    public void Done(long tokensDone, double loss)
    {
        Report(tokensDone, loss, force: true);
        if (_interactive) _out.WriteLine();
    }
}
