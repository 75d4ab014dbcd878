"""What every stage that runs an exported DeBERTa model shares.

Loading (``loadSavedModel``, ``pretrained``, ``load``, ``loadSparkNlpModel``) with the
manifest's task checked, the runtime parameters (batchSize, caseSensitive, maxSentenceLength,
longSentenceStrategy, engine, precision, executionProvider, threads) and the settings the cores
receive. Saving and loading with the model folder is in ``model_persistence``; shipping the model
files to executors in ``model_shipping``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.util import MLReader, MLWriter
from pyspark.sql import DataFrame, SparkSession

from annotators.deberta.encoder import (
    ENGINES,
    EXECUTION_PROVIDERS,
    LONG_SENTENCE_STRATEGIES,
    EncoderSettings,
    check_engine,
)
from annotators.deberta.manifest import MANIFEST
from annotators.deberta.model_folder import PRECISIONS, ModelFolder, load_model_folder
from annotators.deberta.pretrained import resolve_pretrained
from annotators.errors import ModelFolderError
from annotators.model_persistence import ModelFolderReader, ModelFolderWriter
from annotators.model_shipping import ShippedFiles, ship_model_files
from annotators.params import bounded_int, choice
from annotators.stage import ANNOTATION_BYTES, AnnotateFn, AnnotatorModel
from annotators.tasks import task_named

if TYPE_CHECKING:
    from typing import Self

MAX_SENTENCE_LENGTH_LIMIT = 512
#: The shortest sequence that holds a piece: [CLS], one piece, [SEP]. Shorter ones would give
#: tokens the vector of a special token, or no window at all.
MIN_SENTENCE_LENGTH = 3


class DebertaModelStage(AnnotatorModel):
    """A stage backed by a model folder whose manifest's task is ``model_task``.

    Load with ``loadSavedModel(folder, spark)``, ``pretrained(name, lang)`` or ``load(path)``
    (a saved stage or a model folder).
    """

    model_task: ClassVar[str] = ""

    batchSize = Param(
        Params._dummy(),
        "batchSize",
        "sentences per inference batch",
        bounded_int("batchSize", 1, 4096),
    )
    caseSensitive = Param(
        Params._dummy(), "caseSensitive", "whether to keep case", TypeConverters.toBoolean
    )
    maxSentenceLength = Param(
        Params._dummy(),
        "maxSentenceLength",
        "max pieces per sequence, [CLS] and [SEP] included",
        bounded_int("maxSentenceLength", MIN_SENTENCE_LENGTH, MAX_SENTENCE_LENGTH_LIMIT),
    )
    longSentenceStrategy = Param(
        Params._dummy(),
        "longSentenceStrategy",
        "window (a long sentence in overlapping windows: nothing dropped) or truncate (the "
        "reference's cut at maxSentenceLength)",
        choice("longSentenceStrategy", LONG_SENTENCE_STRATEGIES),
    )
    engine = Param(
        Params._dummy(),
        "engine",
        "onnxruntime (exact to the reference model) or openvino (needs the openvino extra)",
        choice("engine", ENGINES),
    )
    precision = Param(
        Params._dummy(),
        "precision",
        "fp32, int8 (needs model_int8.onnx) or bf16 (engine openvino, a CPU with bfloat16)",
        choice("precision", tuple(PRECISIONS)),
    )
    executionProvider = Param(
        Params._dummy(),
        "executionProvider",
        "cpu or cuda",
        choice("executionProvider", EXECUTION_PROVIDERS),
    )
    threads = Param(
        Params._dummy(),
        "threads",
        "the engine's inference threads; 0 = the task's CPUs",
        bounded_int("threads", 0, 1024),
    )
    modelPath = Param(Params._dummy(), "modelPath", "the model folder", TypeConverters.toString)

    def __init__(self) -> None:
        super().__init__()
        self._setDefault(
            batchSize=8,
            caseSensitive=True,
            maxSentenceLength=128,
            longSentenceStrategy="window",
            engine="onnxruntime",
            precision="fp32",
            executionProvider="cpu",
            threads=0,
        )
        self._folder: ModelFolder | None = None
        #: Set when the stage transforms on a cluster (``_prepare``): where its files went.
        self._shipped: ShippedFiles | None = None

    # -- loading --------------------------------------------------------------------------

    @classmethod
    def loadSavedModel(
        cls, folder: str | os.PathLike[str], spark_session: SparkSession | None = None
    ) -> Self:
        """Import an exported model folder (model.onnx, spm.model, manifest.json); the session
        is the reference's argument, not needed here."""
        model = load_model_folder(folder)
        found = model.manifest.task
        if found != cls.model_task:
            raise ModelFolderError(
                f"{model.path} holds a {found} model, not a {cls.model_task} model; load it "
                f"with {task_named(found).stage}"
            )
        stage = cls()
        stage._set(
            modelPath=str(model.path),
            caseSensitive=model.case_sensitive,
            maxSentenceLength=min(128, model.manifest.max_position_embeddings),
        )
        stage._folder = model
        stage._configure_from(model)
        return stage

    def _configure_from(self, model: ModelFolder) -> None:
        """Set the params a subclass takes from the manifest (dimension, labels)."""

    @classmethod
    def loadSparkNlpModel(
        cls,
        path: str | os.PathLike[str],
        out: str | os.PathLike[str] | None = None,
        labels: list[str] | str | os.PathLike[str] | None = None,
    ) -> Self:
        """Import a folder saved by Spark NLP (``metadata/``, ``deberta_onnx`` or
        ``deberta_classification_onnx``, ``deberta_spp``) into a model folder at ``out`` (default:
        ``<cache>/imported/<folder name>-<hash>``) and load it. Classifiers need ``labels`` (a list
        or a labels.txt): Spark NLP keeps them in a JVM object file, which is not read here."""
        from annotators.deberta.manifest import sha256_of
        from annotators.deberta.pretrained import cache_dir
        from annotators.deberta.spark_nlp_folder import import_spark_nlp_folder

        source = Path(path).expanduser().resolve()
        if out is None:
            metadata = source / "metadata" / "part-00000"
            digest = sha256_of(metadata)[:12] if metadata.is_file() else "unknown"
            out = cache_dir() / "imported" / f"{source.name}-{digest}"
        import_spark_nlp_folder(source, out, labels=labels, overwrite=True)
        return cls.loadSavedModel(out)

    def writeSparkNlpImport(self, path: str | os.PathLike[str]) -> Path:
        """Write what Spark NLP's ``loadSavedModel`` imports (``model.onnx``,
        ``assets/spm.model``, ``assets/labels.txt``), to cross-check this model in Spark NLP."""
        from annotators.deberta.spark_nlp_folder import write_spark_nlp_import

        return write_spark_nlp_import(self.model_folder().path, path)

    @classmethod
    def pretrained(
        cls, name: str = "deberta_v3_xsmall", lang: str = "en", remote_loc: str | None = None
    ) -> Self:
        """A model from the local cache (or bundled with the package), else from ``remote_loc``,
        else from Spark NLP's public model repository; a Hugging Face hub id (``owner/name``) is
        exported into the cache for this stage's task (needs the export extra)."""
        return cls.loadSavedModel(resolve_pretrained(name, lang, remote_loc, task=cls.model_task))

    @classmethod
    def read(cls) -> MLReader:
        return ModelFolderReader(cls)

    def write(self) -> MLWriter:
        return ModelFolderWriter(self)

    def model_folder(self) -> ModelFolder:
        if self._folder is None:
            if not self.isDefined(self.modelPath):
                name = type(self).__name__
                raise ModelFolderError(
                    f"{name} has no model: use {name}.pretrained(...), "
                    ".loadSavedModel(folder, spark) or .load(path)"
                )
            self._folder = load_model_folder(self.getOrDefault(self.modelPath))
        return self._folder

    # -- params ---------------------------------------------------------------------------

    def setBatchSize(self, v: int) -> Self:
        return self._set(batchSize=v)

    def getBatchSize(self) -> int:
        return self.getOrDefault(self.batchSize)

    def setCaseSensitive(self, value: bool) -> Self:
        return self._set(caseSensitive=value)

    def getCaseSensitive(self) -> bool:
        return self.getOrDefault(self.caseSensitive)

    def setMaxSentenceLength(self, value: int) -> Self:
        return self._set(maxSentenceLength=value)

    def getMaxSentenceLength(self) -> int:
        return self.getOrDefault(self.maxSentenceLength)

    def setLongSentenceStrategy(self, value: str) -> Self:
        return self._set(longSentenceStrategy=value)

    def getLongSentenceStrategy(self) -> str:
        return self.getOrDefault(self.longSentenceStrategy)

    def setPrecision(self, value: str) -> Self:
        self._set(precision=value)
        if self.isDefined(self.modelPath):
            self.model_folder().model_file(value)  # refuse now if the folder lacks it
        return self

    def getPrecision(self) -> str:
        return self.getOrDefault(self.precision)

    def setEngine(self, value: str) -> Self:
        return self._set(engine=value)

    def getEngine(self) -> str:
        return self.getOrDefault(self.engine)

    def setExecutionProvider(self, value: str) -> Self:
        return self._set(executionProvider=value)

    def getExecutionProvider(self) -> str:
        return self.getOrDefault(self.executionProvider)

    def setThreads(self, value: int) -> Self:
        return self._set(threads=value)

    def getThreads(self) -> int:
        return self.getOrDefault(self.threads)

    # -- running --------------------------------------------------------------------------

    def settings(self, shipped: ShippedFiles | None = None) -> EncoderSettings:
        folder = self.model_folder()
        precision = self.getPrecision()
        model_file = folder.model_file(precision)
        check_engine(self.getEngine(), precision, self.getExecutionProvider())
        return EncoderSettings(
            model_dir=str(folder.path),
            model_file=model_file.name,
            checksum=folder.checksum(precision),
            special_tokens=dict(folder.manifest.special_tokens),
            output=(output if isinstance(output := folder.manifest.output, str) else tuple(output)),
            output_size=self._output_size(folder),
            case_sensitive=self.getCaseSensitive(),
            max_sentence_length=self.getMaxSentenceLength(),
            batch_size=self.getBatchSize(),
            long_sentence_strategy=self.getLongSentenceStrategy(),
            execution_provider=self.getExecutionProvider(),
            threads=self.getThreads(),
            engine=self.getEngine(),
            precision=precision,
            shipped=shipped,
        )

    def check_ready(self) -> None:
        """Refuse now, on the driver, what would fail in every task: an engine or precision
        that cannot run here, and a subclass's own needs (zero-shot's candidate labels)."""
        self.settings()

    def output_annotation_bytes(self) -> int:
        """Its vector three times over (the encoder's output, the concatenation, Arrow)."""
        return ANNOTATION_BYTES + 12 * self._output_size(self.model_folder())

    def _output_size(self, folder: ModelFolder) -> int:
        """Width of one output row of the model (hidden size, or number of labels)."""
        raise NotImplementedError

    def row_core(self) -> AnnotateFn:
        """One row through the batch core (the model stages batch across rows)."""
        core = self.batch_core()
        return lambda *columns: core([columns])[0]

    def shipped_settings(self) -> EncoderSettings:
        """Settings for the cores, naming the shipped files when ``_prepare`` shipped them."""
        return self.settings(self._shipped)

    def _prepare(self, dataset: DataFrame) -> None:
        """Make the model files reachable by every executor (see ``model_shipping``)."""
        self._shipped = ship_model_files(
            dataset.sparkSession, self.model_folder(), self.getPrecision()
        )


class LabelledModelStage(DebertaModelStage):
    """A model stage whose outputs are the manifest's labels (the classifiers)."""

    def _output_size(self, folder: ModelFolder) -> int:
        if not folder.labels:
            raise ModelFolderError(f"{folder.path / MANIFEST} lists no labels")
        return len(folder.labels)

    def getClasses(self) -> list[str]:
        """The labels, in the model's output order (Spark NLP's ``getClasses``)."""
        return list(self.model_folder().labels or [])
