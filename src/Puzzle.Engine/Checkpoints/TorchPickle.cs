using System.Collections;
using System.Numerics;
using System.Text.RegularExpressions;
using Razorvine.Pickle;
using Razorvine.Pickle.Objects;

namespace Puzzle.Engine.Checkpoints;

/// <summary>A storage of a torch.save archive: its record <c>data/{Key}</c>, element type and length in elements.
/// <see cref="DType"/> is null for a type this project does not read (named by <see cref="TypeName"/>).</summary>
internal sealed record TorchStorage(string Key, TensorDType? DType, string TypeName, string TorchDType, long ElementCount);

/// <summary>One tensor of a state dict as torch.save describes it: a view of <see cref="Storage"/> from element
/// <see cref="Offset"/> with <see cref="Shape"/> and <see cref="Stride"/> (in elements). Tied or fused weights share a storage.</summary>
internal sealed record TorchTensor(TorchStorage Storage, long Offset, long[] Shape, long[] Stride);

/// <summary>
/// The <c>data.pkl</c> of a torch.save archive read as a state dict: a dict (or OrderedDict) of tensor name →
/// <c>torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata])</c>, whose
/// storage is a persistent id <c>('storage', torch.FloatStorage, key, location, numel)</c> naming the archive's
/// record. The pickle opcodes are Razorvine.Pickle's; the torch part is here, and it builds descriptors only: no
/// tensor bytes are read, and no Python code runs (Razorvine calls nothing but the constructors registered for the
/// globals below). Every other global is refused, as torch.load(weights_only=True) refuses it: a state dict needs none,
/// and a file that names <c>os.system</c> is not a checkpoint.
/// </summary>
internal static partial class TorchPickle
{
    /// <summary>The globals a state dict of tensors needs; every one of them is a constructor of this class.</summary>
    public const string Allowed = "collections.OrderedDict, torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter, " +
                                  "torch.FloatStorage, torch.HalfStorage, torch.BFloat16Storage, torch.device";

    /// <summary>torch's storage types by the name torch.save writes (its legacy typed names: torch 2.x writes them
    /// too, from <c>TypedStorage._pickle_storage_type</c>); the float ones are read, the others named in errors.</summary>
    static readonly (string Name, TensorDType? DType, string TorchDType)[] StorageTypes =
    [
        ("FloatStorage", TensorDType.F32, "float32"), ("HalfStorage", TensorDType.F16, "float16"), ("BFloat16Storage", TensorDType.BF16, "bfloat16"),
        ("DoubleStorage", null, "float64"), ("LongStorage", null, "int64"), ("IntStorage", null, "int32"), ("ShortStorage", null, "int16"),
        ("CharStorage", null, "int8"), ("ByteStorage", null, "uint8"), ("BoolStorage", null, "bool"),
    ];

    /// <summary>
    /// Parses <paramref name="pickle"/> (the data.pkl of <paramref name="path"/>) into its tensors in storage order
    /// (torch numbers storages as it meets them, so this is the dict's order); throws <see cref="CheckpointException"/>
    /// naming the file, and the global or tensor, when it is not a state dict of float tensors.
    /// </summary>
    public static IReadOnlyList<(string Name, TorchTensor Tensor)> Parse(byte[] pickle, string path)
    {
        object result;
        try
        {
            using var unpickler = new StateDictUnpickler();
            result = unpickler.loads(pickle);
        }
        catch (NotAStateDict e) { throw Error(path, e.Message); }
        catch (PickleException e) when (UnknownGlobal().Match(e.Message) is { Success: true } match)
        {
            // Razorvine makes an unregistered global a ClassDict, and refuses to call one with arguments
            throw Error(path, Refused(match.Groups[1].Value));
        }
        catch (Exception e) when (e is not CheckpointException)
        {
            throw Error(path, $"data.pkl is not a pickle this reader can follow ({e.GetType().Name}: {e.Message}); the file is damaged or is not a state dict saved by torch.save");
        }
        if (result is not Hashtable dict)
            throw Error(path, GlobalOf(result) is { } global ? Refused(global) : $"data.pkl holds {Describe(result)}, not a dict of tensor name → tensor; this is not a state dict of tensors");
        if (result is PickledOrderedDict { State: { } state }) CheckPlain(state, path, "the state dict's attributes");
        var tensors = new List<(string, TorchTensor)>();
        foreach (DictionaryEntry item in dict)
        {
            if (item.Key is not string name)
                throw Error(path, $"data.pkl has a key {Describe(item.Key)}; a state dict's keys are tensor names");
            tensors.Add((name, Tensor(name, item.Value, path)));
        }
        return tensors.OrderBy(t => t.Item2.Storage.Key.Length).ThenBy(t => t.Item2.Storage.Key, StringComparer.Ordinal)
            .ThenBy(t => t.Item2.Offset).ThenBy(t => t.Item1, StringComparer.Ordinal).ToList();
    }

    /// <summary>A tensor from its <c>_rebuild_tensor_v2</c> arguments, checked; views are checked against their storage by the file.</summary>
    static TorchTensor Tensor(string name, object? value, string path)
    {
        var where = $"tensor '{name}'";
        if (value is not RebuiltTensor rebuilt)
            throw Error(path, GlobalOf(value) is { } global ? Refused(global) : $"{where} is {Describe(value)}, not a tensor; this is not a state dict of tensors");
        var args = rebuilt.Args;
        if (args.Length is < 6 or > 7)
            throw Error(path, $"{where}: _rebuild_tensor_v2 has {args.Length} arguments, not 6 or 7 (storage, offset, size, stride, requires_grad, hooks[, metadata])");
        if (args[0] is not TorchStorage storage)
            throw Error(path, $"{where}: the storage argument is {Describe(args[0])}, not a storage of the archive");
        var offset = Integer(args[1], $"{where}: storage offset", path);
        var shape = Integers(args[2], $"{where}: size", path);
        var stride = Integers(args[3], $"{where}: stride", path);
        if (shape.Length != stride.Length)
            throw Error(path, $"{where}: size {TensorInfo.FormatShape(shape)} and stride {TensorInfo.FormatShape(stride)} differ in length");
        if (args[5] is not PickledOrderedDict { Count: 0 })
            throw Error(path, $"{where}: its backward hooks are {Describe(args[5])}; a saved weight has none");
        if (args.Length == 7 && args[6] is not (null or Hashtable { Count: 0 }))
            throw Error(path, $"{where}: it carries tensor metadata ({Describe(args[6])}), which is not read; save the plain tensor");
        return new TorchTensor(storage, offset, shape, stride);
    }

    static long Integer(object? value, string what, string path) => value switch
    {
        int i and >= 0 => i,
        long l and >= 0 => l,
        BigInteger b when b >= 0 && b <= long.MaxValue => (long)b,
        _ => throw Error(path, $"{what} is {Describe(value)}, not a non-negative integer"),
    };

    static long[] Integers(object? value, string what, string path) =>
        value is object[] items ? items.Select(i => Integer(i, what, path)).ToArray() : throw Error(path, $"{what} is {Describe(value)}, not a tuple of integers");

    /// <summary>Refuses anything in the state dict's attributes (its <c>_metadata</c>: each module's version) that came from a global.</summary>
    static void CheckPlain(object? value, string path, string where, int depth = 0)
    {
        // torch's are two deep; a damaged or hostile file must not recurse until the stack overflows
        if (depth > 32) throw Error(path, $"{where} nest more than 32 deep; this is not a state dict of tensors");
        switch (value)
        {
            case null or string or bool or int or long or double or BigInteger or TorchDevice:
                return;
            case Hashtable table:
                foreach (DictionaryEntry e in table)
                {
                    CheckPlain(e.Key, path, where, depth + 1);
                    CheckPlain(e.Value, path, where, depth + 1);
                }
                if (table is PickledOrderedDict { State: { } state }) CheckPlain(state, path, where, depth + 1);
                return;
            case IList list: // tuples (object[]) and lists
                foreach (var item in list) CheckPlain(item, path, where, depth + 1);
                return;
            default:
                throw Error(path, GlobalOf(value) is { } global ? Refused(global) : $"{where} hold {Describe(value)}; this is not a state dict of tensors");
        }
    }

    /// <summary>The Python global an object of the pickle came from, where it came from one this reader refuses.</summary>
    static string? GlobalOf(object? value) => value switch
    {
        ClassDict instance => instance.ClassName,
        ClassDictConstructor type => $"{type.module}.{type.name}",
        RefusedGlobal refused => refused.Name,
        StorageType storage => $"torch.{storage.Name}",
        PythonException exception => exception.PythonExceptionType,
        _ => null,
    };

    static string Describe(object? value) => value switch
    {
        null => "None",
        string s => $"the string '{s}'",
        object[] tuple => $"a tuple of {tuple.Length}",
        IList list => $"a list of {list.Count}",
        Hashtable table => $"a dict of {table.Count}",
        RebuiltTensor => "a tensor",
        TorchStorage s => $"storage '{s.Key}'",
        _ => GlobalOf(value) is { } global ? $"an object of {global}" : $"a {value.GetType().Name} ({value})",
    };

    static string Refused(string global) =>
        $"not a state dict of tensors: data.pkl refers to the Python global {global}, which a state dict does not need " +
        $"(read: {Allowed}; nothing in the file is run). Load the model with transformers and save_pretrained it";

    static CheckpointException Error(string path, string message) => new($"{path}: {message}");

    [GeneratedRegex(@"ClassDict \(for ([^)\s]+)\)")]
    private static partial Regex UnknownGlobal();

    /// <summary>A refusal from inside the unpickler, where the file's path is not known.</summary>
    sealed class NotAStateDict(string message) : Exception(message);

    /// <summary>
    /// Razorvine with torch's globals. Razorvine keeps its constructors in one table for the process: this class
    /// registers the allowed globals there once, and replaces Razorvine's own defaults (datetime, decimal, set,
    /// bytearray, _codecs.encode, ...) with refusals, so that nothing but a state dict's globals is ever built. This
    /// project unpickles nothing else.
    /// </summary>
    sealed class StateDictUnpickler : Unpickler
    {
        static StateDictUnpickler()
        {
            foreach (var key in objectConstructors.Keys.ToList()) objectConstructors[key] = new RefusedGlobal(key);
            registerConstructor("collections", "OrderedDict", new OrderedDictConstructor());
            registerConstructor("torch._utils", "_rebuild_tensor_v2", new RebuildTensor());
            registerConstructor("torch._utils", "_rebuild_parameter", new RebuildParameter());
            registerConstructor("torch", "device", new DeviceConstructor());
            foreach (var (name, dtype, torchDType) in StorageTypes) registerConstructor("torch", name, new StorageType(name, dtype, torchDType));
        }

        readonly Dictionary<string, TorchStorage> _storages = new(StringComparer.Ordinal);

        /// <summary>torch.save's persistent id of a storage: <c>('storage', type, key, location, numel)</c>. A storage
        /// met twice (tied weights, fused views) is the same record, so it must be described the same way.</summary>
        protected override object persistentLoad(object pid)
        {
            if (pid is not object[] { Length: 5 } id || id[0] is not "storage" || id[2] is not string key)
                throw new NotAStateDict($"data.pkl has a persistent id {Describe(pid)} that is not a storage's ('storage', type, key, location, numel)");
            if (id[1] is not StorageType type)
                throw new NotAStateDict(GlobalOf(id[1]) is { } global
                    ? $"storage '{key}' is of type {global}, which is not read (torch.save writes a tensor's storage as torch.FloatStorage, torch.HalfStorage, ...)"
                    : $"storage '{key}' has type {Describe(id[1])}, not a torch storage type");
            var numel = id[4] switch
            {
                int i and >= 0 => i,
                long l and >= 0 => l,
                _ => throw new NotAStateDict($"storage '{key}' has length {Describe(id[4])}, not a non-negative integer"),
            };
            var storage = new TorchStorage(key, type.DType, type.Name, type.TorchDType, numel);
            if (_storages.TryGetValue(key, out var seen) && seen != storage)
                throw new NotAStateDict($"storage '{key}' is described twice, as {seen.TypeName} of {seen.ElementCount} and as {type.Name} of {numel}");
            return _storages[key] = storage;
        }
    }

    /// <summary>What <c>_rebuild_tensor_v2</c> was called with, checked once its name is known.</summary>
    sealed record RebuiltTensor(object[] Args);

    /// <summary>A state dict as <c>Module.state_dict()</c> returns it; its <c>_metadata</c> attribute comes by BUILD.</summary>
    sealed class PickledOrderedDict : Hashtable
    {
        public Hashtable? State { get; private set; }

        // called by Razorvine's BUILD opcode (by name)
        // ReSharper disable once InconsistentNaming
        public void __setstate__(Hashtable state) => State = state;
    }

    sealed class OrderedDictConstructor : IObjectConstructor
    {
        public object construct(object[] args) => args.Length == 0
            ? new PickledOrderedDict()
            : throw new NotAStateDict("data.pkl builds an OrderedDict from arguments, which torch.save never writes");
    }

    sealed class RebuildTensor : IObjectConstructor
    {
        public object construct(object[] args) => new RebuiltTensor(args);
    }

    /// <summary><c>_rebuild_parameter(data, requires_grad, hooks)</c>: a state dict saved from parameters rather than their data.</summary>
    sealed class RebuildParameter : IObjectConstructor
    {
        public object construct(object[] args) => args is [RebuiltTensor data, ..]
            ? data
            : throw new NotAStateDict($"_rebuild_parameter's data is {(args.Length == 0 ? "missing" : Describe(args[0]))}, not a tensor");
    }

    /// <summary>A device named in the pickle (storages are read onto the CPU whatever device they were saved from).</summary>
    sealed record TorchDevice(string Name);

    sealed class DeviceConstructor : IObjectConstructor
    {
        public object construct(object[] args) => new TorchDevice(string.Join(", ", args));
    }

    /// <summary>A torch storage type; it only ever appears inside a persistent id, never called.</summary>
    sealed class StorageType(string name, TensorDType? dtype, string torchDType) : IObjectConstructor
    {
        public string Name => name;
        public TensorDType? DType => dtype;
        public string TorchDType => torchDType;
        public object construct(object[] args) => throw new NotAStateDict($"data.pkl calls torch.{name}, which torch.save never writes");
    }

    /// <summary>A global Razorvine would build and a state dict does not need.</summary>
    sealed class RefusedGlobal(string name) : IObjectConstructor
    {
        public string Name => name;
        public object construct(object[] args) => throw new NotAStateDict(Refused(name));
    }
}
