using System.Collections.Concurrent;

namespace Puzzle.Engine.Tests.Pipeline;

/// <summary>A clock whose timers fire only when the test fires them: a wait on it (<c>Task.Delay</c> with this clock)
/// ends when the test says its time has passed, or when it is cancelled, never by itself.</summary>
internal sealed class ManualClock : TimeProvider
{
    readonly ConcurrentDictionary<int, TaskCompletionSource<Timer>> _created = new();
    int _count;

    /// <summary>A timer of this clock: its due time, and whether its wait was given up (a cancelled delay disposes it).</summary>
    public sealed class Timer(TimerCallback callback, object? state, TimeSpan due) : ITimer
    {
        public TimeSpan Due { get; private set; } = due;
        public bool Disposed { get; private set; }

        /// <summary>Its time has passed.</summary>
        public void Fire()
        {
            if (!Disposed) callback(state);
        }

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            Due = dueTime;
            return !Disposed;
        }

        public void Dispose() => Disposed = true;

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }

    TaskCompletionSource<Timer> Slot(int i) => _created.GetOrAdd(i, _ => new TaskCompletionSource<Timer>(TaskCreationOptions.RunContinuationsAsynchronously));

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new Timer(callback, state, dueTime);
        Slot(Interlocked.Increment(ref _count) - 1).TrySetResult(timer);
        return timer;
    }

    /// <summary>The <paramref name="i"/>th timer created (from 0), once it is.</summary>
    public Task<Timer> Created(int i) => Slot(i).Task.WaitAsync(TimeSpan.FromSeconds(30));

    /// <summary>How many timers were created.</summary>
    public int Count => Volatile.Read(ref _count);
}
